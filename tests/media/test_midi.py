"""The MIDI file a DAW user imports: tempo, meter and key, one track per instrument."""

from __future__ import annotations

from pathlib import Path

import mido

from cadenza.engines.procedural.engine import score_to_midi
from cadenza.media.midi import key_signature, write_midi
from tests.conftest import compose_song


def test_song_midi_has_meta_events_and_a_track_per_instrument(tmp_path: Path) -> None:
    _style, score = compose_song(2, genre="jazz", key="Bb major", bpm=132, time_signature="3/4", duration=30)
    path = write_midi(
        tmp_path / "song.mid",
        bpm=score.bpm,
        time_signature=(3, 4),
        key=key_signature(score.key.tonic, score.key.mode),
        tracks=score_to_midi(score),
    )
    song = mido.MidiFile(path)
    meta = {m.type: m for m in song.tracks[0]}
    assert round(mido.tempo2bpm(meta["set_tempo"].tempo)) == 132
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (3, 4)
    assert meta["key_signature"].key == "Bb"
    names = [next(m.name for m in track if m.type == "track_name") for track in song.tracks[1:]]
    assert names == [t.name for t in score.tracks]
    for track, source in zip(song.tracks[1:], score.tracks, strict=True):
        notes = [m for m in track if m.type == "note_on" and m.velocity > 0]
        assert len(notes) == len(source.notes)
        programs = [m.program for m in track if m.type == "program_change"]
        assert programs == ([] if source.is_drum else [source.program])
        assert all(m.channel == 9 for m in notes) == source.is_drum


def test_minor_keys_use_mido_names() -> None:
    assert key_signature(9, "minor") == "Am"
    assert key_signature(6, "major") == "F#"
