"""Multi-track Standard MIDI files: tempo, meter and key in a conductor track, one track per instrument."""

from __future__ import annotations

import struct
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
    """Write a type-1 file, byte for byte what `mido.MidiFile.save` writes for the same messages.

    Note events are encoded here directly (running status, as mido does); mido builds only the few meta
    messages, because building and checking a mido message per note was most of the writing time.
    """
    import mido

    conductor = [
        mido.MetaMessage("track_name", name=title or "Cadenza", time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
        mido.MetaMessage("time_signature", numerator=time_signature[0], denominator=time_signature[1], time=0),
        mido.MetaMessage("key_signature", key=key, time=0),
    ]
    chunks = [_track_chunk([(0, bytes(m.bytes()), False) for m in conductor])]
    melodic_channels = iter(c for c in range(16) if c != 9)
    for track in tracks:
        channel = 9 if track.is_drum else next(melodic_channels, 15)
        chunks.append(_track_chunk(_track_events(track, channel)))
    header = b"MThd" + struct.pack(">Lhhh", 6, 1, len(chunks), TICKS_PER_BEAT)
    with atomic_path(path) as tmp:
        tmp.write_bytes(header + b"".join(chunks))
    return path


def _track_events(track: MidiTrack, channel: int) -> list[tuple[int, bytes, bool]]:
    """(tick, message bytes, is a channel message) in file order."""
    import mido

    timed: list[tuple[int, int, bytes, bool]] = []
    note_on, note_off = 0x90 | channel, 0x80 | channel
    for note in track.notes:
        if not (0 <= note.pitch <= 127 and 0 <= note.velocity <= 127):
            raise ValueError(f"a MIDI note needs pitch and velocity in 0..127, not {note.pitch} and {note.velocity}")
        on = round(note.start * TICKS_PER_BEAT)
        off = max(on + 1, round((note.start + note.duration) * TICKS_PER_BEAT))
        timed.append((on, 2, bytes((note_on, note.pitch, note.velocity)), True))
        timed.append((off, 0, bytes((note_off, note.pitch, 0)), True))
    for beat, text in track.lyrics:
        timed.append((round(beat * TICKS_PER_BEAT), 1, bytes(mido.MetaMessage("lyrics", text=text).bytes()), False))
    timed.sort(key=lambda item: (item[0], item[1]))
    events = [(0, bytes(mido.MetaMessage("track_name", name=track.name).bytes()), False)]
    if not track.is_drum:
        events.append((0, bytes((0xC0 | channel, track.program)), True))
    return events + [(tick, message, is_channel) for tick, _, message, is_channel in timed]


def _track_chunk(events: list[tuple[int, bytes, bool]]) -> bytes:
    """An MTrk chunk from absolute-tick events, with running status and the end-of-track event."""
    data = bytearray()
    running = None
    now = 0
    for tick, message, is_channel in events:
        data += _variable_int(tick - now)
        now = tick
        if is_channel and message[0] == running:
            data += message[1:]
        else:
            data += message
        running = message[0] if is_channel else None
    data += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">L", len(data)) + bytes(data)


def _variable_int(value: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits a byte, most significant first, high bit on all but the last."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))
