"""The Score: what the composer writes and the renderer plays. Times are in quarter-note beats."""

from __future__ import annotations

from dataclasses import dataclass, field

from cadenza.tasks import Key, TimeSignature


@dataclass
class Note:
    start: float  # beats from the song start, after humanisation
    duration: float  # beats
    pitch: int
    velocity: int
    lyric: str | None = None  # the syllable a vocal note starts; None on the later notes of a melisma


@dataclass
class Track:
    name: str  # unique, used for the stem file and the MIDI track
    role: str  # drums, bass, chords, lead, pad, arp, timpani, vocal
    program: int  # General MIDI program, 0-based (ignored for drums)
    is_drum: bool = False
    pan: float = 0.0  # -1 left .. 1 right
    gain_db: float = 0.0
    reverb: float = 0.15  # send level 0..1
    synth: str = ""  # a synthesised voice or kit (synth.VOICES) instead of the SoundFont; "" for none
    notes: list[Note] = field(default_factory=list)


@dataclass
class Section:
    kind: str  # intro, verse, prechorus, chorus, bridge, build, drop, breakdown, outro
    start_bar: int
    bars: int
    energy: float


@dataclass
class Chord:
    start: float  # beats
    duration: float
    root: int  # pitch class
    tones: tuple[int, ...]  # pitch classes, root first
    symbol: str  # roman numeral as written in the progression


@dataclass
class Score:
    bpm: float
    key: Key
    meter: TimeSignature
    sections: list[Section]
    chords: list[Chord]
    tracks: list[Track]
    length_seconds: float  # the exact length of the rendered audio
    textures: list[str] = field(default_factory=list)  # non-MIDI layers, e.g. "vinyl"
    lyric_events: list[tuple[float, str]] = field(default_factory=list)  # (beat, syllable) sung by the vocal
    lyric_lines: list[tuple[float, str]] = field(default_factory=list)  # (beat, line) where each line starts
    voice: str = "alto"  # the singer's register (see singer.VOICES)
    timbre: str = "clear"
    vocal_language: str = "en"
    brightness: float = 0.0  # tilt of every pitched stem, dB per octave around 1 kHz

    @property
    def bar_beats(self) -> float:
        return self.meter.quarter_notes_per_bar

    def seconds(self, beats: float) -> float:
        return beats * 60.0 / self.bpm

    def chord_at(self, beat: float) -> Chord:
        for chord in reversed(self.chords):
            if chord.start <= beat + 1e-6:
                return chord
        return self.chords[0]
