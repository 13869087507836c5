"""General MIDI names, drum keys and the mix defaults of each role."""

from __future__ import annotations

GM_PROGRAMS = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel", "Music Box",
    "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ", "Percussive Organ",
    "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics", "Acoustic Bass",
    "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1", "Slap Bass 2",
    "Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings",
    "Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1", "String Ensemble 2",
    "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1",
    "Synth Brass 2", "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn",
    "Bassoon", "Clarinet", "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi",
    "Whistle", "Ocarina", "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)", "Pad 1 (new age)",
    "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)",
    "Pad 8 (sweep)", "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen",
    "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise",
    "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause", "Gunshot",
)  # fmt: skip

DRUM_KEYS = {
    "kick": 36, "snare": 38, "clap": 39, "rim": 37, "hat": 42, "pedal": 44, "open_hat": 46, "ride": 51,
    "crash": 49, "tom": 45, "tom_mid": 47, "tom_high": 50, "shaker": 70, "tambourine": 54,
}  # fmt: skip
DRUM_LEVEL = {"hat": 0.72, "shaker": 0.55, "ride": 0.7, "pedal": 0.6, "rim": 0.8, "tom": 0.9, "open_hat": 0.7}

# role -> (pan, gain dB, reverb send)
ROLE_MIX = {
    "drums": (0.0, 0.0, 0.08),
    "bass": (0.0, -1.5, 0.0),
    "chords": (-0.2, -4.0, 0.2),
    "lead": (0.15, -2.5, 0.25),
    "vocal": (0.0, -1.0, 0.22),
    "pad": (0.25, -9.0, 0.35),
    "arp": (-0.3, -8.0, 0.3),
    "timpani": (0.0, -4.0, 0.25),
}

# role -> (lowest, highest) MIDI pitch
ROLE_RANGE = {
    "bass": (29, 41),
    "chords": (52, 76),
    "pad": (48, 72),
    "lead": (62, 84),
    "vocal": (57, 77),
    "arp": (64, 88),
    "timpani": (38, 50),
}


def instrument_slug(program: int) -> str:
    name = GM_PROGRAMS[program].lower()
    for char in "()+":
        name = name.replace(char, "")
    return "-".join(name.split())
