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


def _written_by_mido(path: Path, tracks: list, bpm: float, key: str) -> None:
    """The reference: every message built and saved by mido, as the writer did before it encoded notes itself."""
    song = mido.MidiFile(type=1, ticks_per_beat=480)
    song.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("track_name", name="Song", time=0),
                mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
                mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
                mido.MetaMessage("key_signature", key=key, time=0),
            ]
        )
    )
    channels = iter(c for c in range(16) if c != 9)
    for track in tracks:
        channel = 9 if track.is_drum else next(channels, 15)
        timed = []
        for note in track.notes:
            on = round(note.start * 480)
            off = max(on + 1, round((note.start + note.duration) * 480))
            timed.append((on, 2, mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity)))
            timed.append((off, 0, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0)))
        timed += [(round(beat * 480), 1, mido.MetaMessage("lyrics", text=text)) for beat, text in track.lyrics]
        timed.sort(key=lambda item: (item[0], item[1]))
        messages = [mido.MetaMessage("track_name", name=track.name, time=0)]
        if not track.is_drum:
            messages.append(mido.Message("program_change", channel=channel, program=track.program, time=0))
        now = 0
        for tick, _, message in timed:
            messages.append(message.copy(time=tick - now))
            now = tick
        song.tracks.append(mido.MidiTrack(messages))
    song.save(path)


def test_song_midi_is_byte_for_byte_what_mido_writes(tmp_path: Path) -> None:
    _style, score = compose_song(5, genre="reggae", duration=40)
    tracks = score_to_midi(score)
    tracks[0].lyrics = [(0.0, "Sun"), (1.5, "-shine"), (1.5, "é"), (200.0, "late")]  # ties and a long gap
    key = key_signature(score.key.tonic, score.key.mode)
    ours = write_midi(tmp_path / "ours.mid", bpm=score.bpm, time_signature=(4, 4), key=key, tracks=tracks, title="Song")
    _written_by_mido(tmp_path / "mido.mid", tracks, score.bpm, key)
    assert ours.read_bytes() == (tmp_path / "mido.mid").read_bytes()
    assert len(mido.MidiFile(ours).tracks) == len(tracks) + 1
