"""Multi-track Standard MIDI files: tempo, meter and key in a conductor track, one track per instrument."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.media.io import atomic_path

TICKS_PER_BEAT = 480
SHARP_KEYS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MINOR_KEYS = ["Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm"]


@dataclass
class MidiNote:
    start: float  # beats
    duration: float
    pitch: int
    velocity: int


@dataclass
class MidiTrack:
    name: str
    program: int
    is_drum: bool
    notes: Sequence[MidiNote]
    lyrics: list[tuple[float, str]] = field(default_factory=list)  # (beat, syllable)


def key_signature(tonic: int, mode: str) -> str:
    """mido's key name for a tonic pitch class and mode."""
    return (MINOR_KEYS if mode == "minor" else SHARP_KEYS)[tonic % 12]


def write_midi(
    path: Path, *, bpm: float, time_signature: tuple[int, int], key: str, tracks: Iterable[MidiTrack], title: str = ""
) -> Path:
    import mido

    song = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=title or "Cadenza", time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    numerator, denominator = time_signature
    conductor.append(mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0))
    conductor.append(mido.MetaMessage("key_signature", key=key, time=0))
    song.tracks.append(conductor)

    melodic_channels = iter(c for c in range(16) if c != 9)
    for track in tracks:
        channel = 9 if track.is_drum else next(melodic_channels, 15)
        timed: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []
        for note in track.notes:
            on = round(note.start * TICKS_PER_BEAT)
            off = max(on + 1, round((note.start + note.duration) * TICKS_PER_BEAT))
            timed.append((on, 2, mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity)))
            timed.append((off, 0, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0)))
        for beat, text in track.lyrics:
            timed.append((round(beat * TICKS_PER_BEAT), 1, mido.MetaMessage("lyrics", text=text)))
        timed.sort(key=lambda item: (item[0], item[1]))
        midi_track = mido.MidiTrack()
        midi_track.append(mido.MetaMessage("track_name", name=track.name, time=0))
        if not track.is_drum:
            midi_track.append(mido.Message("program_change", channel=channel, program=track.program, time=0))
        now = 0
        for tick, _, message in timed:
            midi_track.append(message.copy(time=tick - now))
            now = tick
        song.tracks.append(midi_track)
    with atomic_path(path) as tmp:
        song.save(tmp)
    return path
