"""Part writers: the notes one role plays in one bar, given the harmony, the section and the genre.

Positions are 16th-note steps inside the bar; patterns written for 4/4 are replaced by meter-derived
ones in other meters. Every writer is deterministic given its generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cadenza.engines.procedural.genres import Genre
from cadenza.engines.procedural.instruments import DRUM_KEYS, DRUM_LEVEL, ROLE_RANGE
from cadenza.engines.procedural.score import Chord, Note
from cadenza.engines.procedural.theory import in_range, nearest_pitch, voice
from cadenza.tasks import TimeSignature

STEP = 0.25  # beats per 16th
ACCENT = {"X": 112, "x": 90, "g": 46}


@dataclass
class Bar:
    start: float  # beats
    meter: TimeSignature
    chords: list[Chord]  # the chords sounding in this bar
    next_root: int  # pitch class of the next bar's first chord
    energy: float
    section: str
    last_in_section: bool

    @property
    def steps(self) -> int:
        return round(self.meter.quarter_notes_per_bar * 4)

    @property
    def four_four(self) -> bool:
        return self.meter.numerator == 4 and self.meter.denominator == 4

    def beat_steps(self) -> list[int]:
        """Steps where the felt beats fall: quarters in x/4, dotted quarters in x/8."""
        stride = 6 if self.meter.denominator == 8 else 4
        return list(range(0, self.steps, stride))

    def chord_at_step(self, step: int) -> Chord:
        beat = self.start + step * STEP
        current = self.chords[0]
        for chord in self.chords:
            if chord.start <= beat + 1e-6:
                current = chord
        return current

    def note(self, step: float, steps: float, pitch: int, velocity: float) -> Note:
        velocity = velocity * (0.72 + 0.28 * self.energy)
        return Note(self.start + step * STEP, steps * STEP, int(pitch), int(np.clip(velocity, 1, 127)))


def _hits(pattern: str) -> list[tuple[int, int]]:
    return [(i, ACCENT[c]) for i, c in enumerate(pattern) if c in ACCENT]


def drum_pattern(genre: Genre, bar: Bar) -> dict[str, str]:
    """The genre's pattern in 4/4; in other meters a pattern built on the meter's beats."""
    assert genre.drums is not None
    if bar.four_four:
        return genre.drums
    beats = bar.beat_steps()
    timekeeper = next((v for v in ("hat", "ride", "shaker") if v in genre.drums), "hat")
    kick, snare = ["."] * bar.steps, ["."] * bar.steps
    for index, step in enumerate(beats):
        if index == 0 or (len(beats) >= 4 and index == len(beats) // 2 + len(beats) % 2 - (len(beats) == 5)):
            kick[step] = "X" if index == 0 else "x"
        elif index == len(beats) - 1 or (len(beats) >= 4 and index % 2 == 1):
            snare[step] = "X" if index == len(beats) - 1 else "x"
    pattern = {"kick": "".join(kick), "snare": "".join(snare)}
    pattern[timekeeper] = "".join("x" if i % 2 == 0 else "." for i in range(bar.steps))
    return pattern


def drums(genre: Genre, bar: Bar, rng: np.random.Generator, build_index: int = -1) -> list[Note]:
    """One bar of drums; the section decides which voices play and the last bar gets a fill."""
    pattern = drum_pattern(genre, bar)
    section, notes = bar.section, []
    voices = dict(pattern)
    if section == "intro" or section == "breakdown":
        voices = {v: p for v, p in voices.items() if v not in ("kick", "snare", "clap", "rim", "tom")}
        if bar.energy >= 0.55 and "kick" in pattern:
            voices["kick"] = pattern["kick"]
    elif section == "bridge" and bar.energy < 0.6:
        voices = {v: p for v, p in voices.items() if v in ("kick", "snare", "rim", "clap", "ride", "shaker")}
    elif section == "build":
        density = (1, 2, 4, 4)[min(build_index, 3)] if build_index >= 0 else 1
        roll = "".join("x" if i % (4 // density) == 0 else "." for i in range(bar.steps))
        voices = {"kick": "".join("x" if i % 4 == 0 else "." for i in range(bar.steps)), "snare": roll}
    for voice_name, line in voices.items():
        key = DRUM_KEYS["snare" if voice_name == "snare" else voice_name]
        level = DRUM_LEVEL.get(voice_name, 1.0)
        for step, velocity in _hits(line):
            notes.append(bar.note(step, 1, key, velocity * level))
    if section in ("chorus", "drop") and "hat" in voices and bar.steps % 4 == 0:
        notes.append(bar.note(bar.steps - 2, 1, DRUM_KEYS["open_hat"], 70))
    if bar.last_in_section and section not in ("intro", "breakdown") and bar.energy >= 0.45:
        notes = _fill(notes, bar, rng, genre)
    return notes


def _fill(notes: list[Note], bar: Bar, rng: np.random.Generator, genre: Genre) -> list[Note]:
    fill_steps = 4 if bar.steps >= 8 else 2
    cut = bar.start + (bar.steps - fill_steps) * STEP
    kept = [n for n in notes if n.start < cut - 1e-6 or n.pitch == DRUM_KEYS["kick"]]
    use_toms = genre.name in ("rock", "cinematic", "funk", "pop") and rng.random() < 0.6
    keys = [DRUM_KEYS["tom_high"], DRUM_KEYS["tom_mid"], DRUM_KEYS["tom"], DRUM_KEYS["tom"]]
    for i in range(fill_steps):
        key = keys[i % 4] if use_toms else DRUM_KEYS["snare"]
        kept.append(bar.note(bar.steps - fill_steps + i, 1, key, 62 + 12 * i))
    return kept


BASS_STYLES: dict[str, list[tuple[int, int, str]]] = {  # (step, length in steps, degree)
    "pop": [(0, 6, "R"), (6, 2, "R"), (8, 4, "R"), (12, 2, "5"), (14, 2, "A")],
    "root8": [(i, 2, "R") for i in range(0, 14, 2)] + [(14, 2, "A")],
    "offbeat": [(2, 2, "R"), (6, 2, "R"), (10, 2, "8"), (14, 2, "R")],
    "syncopated": [
        (0, 2, "R"),
        (3, 1, "8"),
        (4, 2, "R"),
        (7, 1, "R"),
        (8, 2, "5"),
        (11, 1, "8"),
        (12, 2, "R"),
        (14, 2, "A"),
    ],
    "octave": [(i, 2, "R" if i % 4 == 0 else "8") for i in range(0, 16, 2)],
    "bossa": [(0, 3, "R"), (3, 5, "R"), (8, 3, "5"), (11, 5, "5")],
    "sub": [(0, 10, "R"), (10, 6, "R")],
    "sustain": [(0, 16, "R")],
    "walking": [(0, 4, "R"), (4, 4, "3"), (8, 4, "5"), (12, 4, "A")],
    "two_beat": [(0, 4, "R"), (4, 4, "5"), (8, 4, "R"), (12, 4, "5")],
    "shuffle": [
        (0, 3, "R"),
        (3, 1, "R"),
        (4, 3, "3"),
        (7, 1, "3"),
        (8, 3, "5"),
        (11, 1, "5"),
        (12, 3, "6"),
        (15, 1, "5"),
    ],
    "rolling": [(i, 1, "R" if i % 4 else "8") for i in range(16) if i % 4 != 0],
    "two_step": [(0, 3, "R"), (6, 2, "8"), (10, 3, "R"), (13, 3, "5")],
    "tumbao": [(3, 5, "5"), (8, 4, "R"), (12, 4, "R")],
    "log_drum": [(0, 3, "R"), (6, 2, "5"), (10, 3, "8"), (13, 2, "R")],
    "marcato": [(0, 3, "R"), (4, 3, "5"), (8, 3, "R"), (12, 3, "5")],
    "slide": [(0, 10, "R"), (10, 3, "R"), (13, 3, "8")],
    "wobble": [(0, 6, "R"), (6, 2, "8"), (8, 8, "R")],
}


def bass(genre: Genre, bar: Bar, rng: np.random.Generator) -> list[Note]:
    low, high = ROLE_RANGE["bass"]
    if genre.bass == "alberti":
        return alberti(bar)
    if genre.bass == "follow_kick" and bar.four_four and genre.drums:
        kicks = [s for s, _ in _hits(genre.drums["kick"])]
        plan = [(s, ([*kicks, 16])[i + 1] - s, "R") for i, s in enumerate(kicks)]
    elif bar.four_four:
        plan = BASS_STYLES[genre.bass]
    else:
        beats = bar.beat_steps()
        plan = [(s, ([*beats, bar.steps])[i + 1] - s, "R" if i % 2 == 0 else "5") for i, s in enumerate(beats)]
    notes = []
    for step, length, degree in plan:
        chord = bar.chord_at_step(step)
        root = in_range(chord.root, low, high)
        if degree == "A":
            target = in_range(bar.next_root, low, high)
            pitch = target + (1 if rng.random() < 0.5 else -1) if target != root else root + 7
        elif degree == "5":
            pitch = root + 7 if root + 7 <= high + 5 else root - 5
        elif degree == "3":
            pitch = nearest_pitch(chord.tones[1:2], root + 4, low, high + 7)
        elif degree == "8":
            pitch = root + 12
        elif degree == "6":
            pitch = root + 9
        else:
            pitch = root
        accent = 104 if step in (0, 8) else 88
        notes.append(bar.note(step, length * 0.92, pitch, accent))
    return notes


def alberti(bar: Bar) -> list[Note]:
    """Classical left hand: broken chord in 8ths, low-high-middle-high."""
    notes = []
    for step in range(0, bar.steps, 2):
        chord = bar.chord_at_step(step)
        low = in_range(chord.root, 36, 47)
        fifth, third = low + 7, nearest_pitch(chord.tones[1:2], low + 14, low + 10, low + 20)
        pitch = (low, fifth + 0, third, fifth)[(step // 2) % 4]
        notes.append(bar.note(step, 2.4, pitch, 90 if step % 8 == 0 else 80 if step % 4 == 0 else 56))
    return notes


CHORD_RHYTHMS: dict[str, list[tuple[int, int, int]]] = {  # (step, length, velocity)
    "halves": [(0, 8, 92), (8, 8, 80)],
    "block": [(0, 16, 84)],
    "pulse": [(i, 2, 96 if i % 4 == 0 else 78) for i in range(0, 16, 2)],
    "stabs": [(2, 1, 96), (6, 1, 90), (10, 1, 96), (14, 1, 90)],
    "scratch": [
        (0, 1, 96),
        (3, 1, 60),
        (4, 1, 86),
        (7, 1, 58),
        (8, 1, 94),
        (11, 1, 60),
        (12, 1, 86),
        (15, 1, 58),
    ],
    "strum": [(0, 4, 98), (4, 2, 72), (6, 2, 84), (8, 2, 70), (10, 2, 86), (12, 2, 72), (14, 2, 80)],
    "bossa": [(0, 3, 86), (3, 3, 72), (6, 4, 80), (10, 3, 74), (13, 3, 80)],
    "skank": [(2, 1, 92), (6, 1, 88), (10, 1, 92), (14, 1, 88)],
    "gallop": [(i, 1, 104 if i % 4 == 0 else 80) for i in range(16) if i % 4 != 1],
    "chop": [(0, 2, 100), (3, 1, 80), (6, 2, 92), (10, 1, 84), (12, 2, 96), (14, 1, 80)],
    "montuno": [(0, 1, 92), (3, 1, 80), (4, 1, 84), (6, 1, 88), (9, 1, 80), (11, 1, 86), (12, 1, 84), (14, 1, 88)],
    "marcato": [(0, 2, 100), (4, 2, 90), (8, 2, 98), (12, 2, 90)],
}


def chords(
    genre: Genre, bar: Bar, rng: np.random.Generator, previous: list[int] | None
) -> tuple[list[Note], list[int] | None]:
    """Chord hits in the genre's rhythm, voice-led from the previous voicing."""
    low, high = ROLE_RANGE["chords"]
    if genre.chords == "none":
        return [], previous
    if genre.chords == "comp":
        slots = sorted(rng.choice([0, 3, 6, 8, 10, 14], size=3, replace=False))
        rhythm = [(int(s), 3, int(rng.integers(70, 92))) for s in slots]
    elif bar.four_four:
        rhythm = CHORD_RHYTHMS[genre.chords]
    else:
        rhythm = [(s, 2 if genre.chords in ("pulse", "stabs", "skank", "scratch") else 4, 84) for s in bar.beat_steps()]
    notes, voicing = [], previous
    spread = 0.12 if genre.chords in ("strum", "bossa") else 0.0
    for step, length, velocity in rhythm:
        chord = bar.chord_at_step(step)
        tones = (chord.root, (chord.root + 7) % 12) if genre.chord_tones == 2 else chord.tones
        if genre.chord_tones == 2:  # a power chord: root, fifth and the octave, low on the neck
            root = in_range(chord.root, 40, 52)
            voicing = [root, root + 7, root + 12]
        else:
            voicing = voice(tones, voicing if voicing and len(voicing) == len(tones) else None, low, high)
        for i, pitch in enumerate(voicing):
            notes.append(bar.note(step + i * spread, length * 0.95 - i * spread, pitch, velocity))
    return notes, voicing


def pad(bar: Bar, previous: list[int] | None) -> tuple[list[Note], list[int]]:
    low, high = ROLE_RANGE["pad"]
    notes, voicing = [], previous
    for chord in bar.chords:
        voicing = voice(
            chord.tones[:4], voicing if voicing and len(voicing) == len(chord.tones[:4]) else None, low, high
        )
        step = (chord.start - bar.start) / STEP
        for pitch in voicing:
            notes.append(bar.note(step, chord.duration / STEP, pitch, 70))
    return notes, voicing


def arp(bar: Bar, fast: bool) -> list[Note]:
    """Up-and-down arpeggio over the chord tones; accents fall on the beats."""
    low, high = ROLE_RANGE["arp"]
    stride = 1 if fast else 2
    notes = []
    for i, step in enumerate(range(0, bar.steps, stride)):
        chord = bar.chord_at_step(step)
        ladder = sorted({in_range(t, low, high) for t in chord.tones})
        ladder = [*ladder, ladder[0] + 12]
        cycle = ladder + ladder[-2:0:-1]
        velocity = 92 if step % 4 == 0 else 64
        notes.append(bar.note(step, stride * 0.9, cycle[i % len(cycle)], velocity))
    return notes


def timpani(bar: Bar) -> list[Note]:
    root = in_range(bar.chords[0].root, *ROLE_RANGE["timpani"])
    notes = [bar.note(0, 4, root, 100)]
    if bar.last_in_section:
        notes += [bar.note(bar.steps - 4 + i, 1, root, 60 + 10 * i) for i in range(4)]
    return notes
