"""What a genre is: tempo, groove, harmony, instrumentation, sound and form (the genre book is genres.py).

Drum and rhythm patterns are written for 4/4 as sixteen 16th-note steps: `x` a hit, `X` an accent,
`g` a ghost note, `.` a rest. Other meters get patterns derived from the meter (see compose.py).
Progressions are roman numerals, one chord per bar unless a bar holds two (`ii7:V7`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Pattern = dict[str, str]  # drum voice -> 16 steps

ARRANGEMENT_SONG = (
    ("intro", 4),
    ("verse", 8),
    ("chorus", 8),
    ("verse", 8),
    ("chorus", 8),
    ("bridge", 8),
    ("chorus", 8),
    ("outro", 4),
)
ARRANGEMENT_CLUB = (
    ("intro", 8),
    ("build", 8),
    ("drop", 16),
    ("breakdown", 8),
    ("build", 8),
    ("drop", 16),
    ("outro", 8),
)
ARRANGEMENT_AMBIENT = (("intro", 8), ("verse", 8), ("chorus", 8), ("bridge", 8), ("chorus", 8), ("outro", 8))
ARRANGEMENT_JAZZ = (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("bridge", 8), ("chorus", 8), ("outro", 4))
ARRANGEMENT_SHORT = (("intro", 2), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("solo", 8), ("outro", 2))
ARRANGEMENT_BLUES = (("intro", 4), ("verse", 12), ("verse", 12), ("solo", 12), ("verse", 12), ("outro", 4))
ARRANGEMENT_IDOL = (
    ("intro", 4),
    ("verse", 8),
    ("prechorus", 4),
    ("chorus", 8),
    ("verse", 8),
    ("prechorus", 4),
    ("chorus", 8),
    ("breakdown", 4),
    ("chorus", 8),
    ("outro", 4),
)
ARRANGEMENT_RAP = (
    ("intro", 4),
    ("chorus", 8),
    ("verse", 16),
    ("chorus", 8),
    ("verse", 16),
    ("chorus", 8),
    ("outro", 4),
)
ARRANGEMENT_METAL = (
    ("intro", 4),
    ("verse", 8),
    ("chorus", 8),
    ("verse", 8),
    ("chorus", 8),
    ("solo", 8),
    ("breakdown", 4),
    ("chorus", 8),
    ("outro", 4),
)

POP_MAJOR = ("I V vi IV", "vi IV I V", "I vi IV V", "I IV vi V")
POP_MINOR = ("i VI III VII", "i iv VI V", "i VII VI VII", "i VI iv V")


@dataclass(frozen=True)
class Genre:
    name: str
    aliases: tuple[str, ...]
    tempo: tuple[float, float, float]  # slowest, default, fastest
    meter: str
    mode: str  # preferred mode when the prompt does not say
    energy: float  # 0..1 overall intensity
    swing: float  # where the off-beat falls inside its pair: 0.5 straight, 0.67 triplet swing
    swing_unit: int  # 8 or 16: which notes are swung
    major: tuple[str, ...]
    minor: tuple[str, ...]
    sevenths: bool
    instruments: dict[str, int | str]  # role -> General MIDI program (0-based) or a synth voice (synth.VOICES)
    drums: Pattern | None
    bass: str  # bass style, see compose.py
    chords: str  # chord rhythm style
    lead_density: float  # share of 8th-note slots that start a melody note
    arrangement: tuple[tuple[str, int], ...]
    texture: tuple[str, ...] = ()
    pans: dict[str, float] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()  # scene, instrument and mood words that point to this genre
    tonics: tuple[int, ...] = ()  # favoured tonic pitch classes (the default key leans to them)
    kit: str = "gm"  # drum sounds: "gm" (SoundFont), "chip" (pulse and noise), "808" (synthesised)
    brightness: float = 0.0  # tilt of the genre's sound, dB per octave around 1 kHz (+ brighter)
    chord_tones: int = 0  # 0 every chord tone; 2 root and fifth only (power chords)
    # The pulse a listener taps, as a share of the written tempo: 1 for most; 0.5 for a half-time groove
    # (dubstep's one snare a bar), or for fast swing felt in two; 2/3 for compound meters (6/8 is felt in
    # dotted quarters). A beat tracker hears the song at tempo x felt_tempo, and that is right.
    felt_tempo: float = 1.0
