"""Generate with lyrics: a sung line, lyric events in the MIDI, an .lrc, and a vocal stem."""

from __future__ import annotations

import re
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from cadenza.engines.base import RunContext
from cadenza.engines.procedural.engine import ProceduralEngine
from cadenza.engines.procedural.vocal import line_syllables
from cadenza.errors import InputError
from cadenza.tasks import GenerateRequest

LYRICS = """[Verse 1]
the city sleeps beneath the rain
we walk along the silver light

[Chorus]
hold on to me tonight
under the yellow light

[Verse 2]
a tram is singing through the street
and every window starts to glow

[Chorus]
hold on to me tonight
under the yellow light
"""


@pytest.fixture(scope="module")
def sung(tmp_path_factory: pytest.TempPathFactory):
    scratch = tmp_path_factory.mktemp("sung")
    request = GenerateRequest(prompt="warm pop ballad", lyrics=LYRICS, duration=45, bpm=110, seed=4)
    output = ProceduralEngine().run(request, RunContext(seed=4, scratch=scratch))
    return {a.role: a.path for a in output.artifacts}, output.recipe


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("[")]


def test_one_note_and_one_lyric_event_per_syllable(sung) -> None:
    files, _ = sung
    song = mido.MidiFile(files["midi"])
    vocal = next(t for t in song.tracks if t.name == "vocal")
    events = [m.text for m in vocal if m.type == "lyrics"]
    notes = [m for m in vocal if m.type == "note_on" and m.velocity > 0]
    expected = [piece for line in lines_of(LYRICS) for piece in line_syllables(line)]
    assert events == expected
    # a note per syllable, plus at most one melisma note (no lyric, sung legato) at each line's end
    assert len(expected) <= len(notes) <= len(expected) + len(lines_of(LYRICS))
    assert len(syllable_pitches(vocal)) == len(expected)
    assert "".join(e.rstrip("-") for e in events[:4]) == "thecitysleeps"


def syllable_pitches(track: mido.MidiTrack) -> list[int]:
    """The pitch of the note each lyric event starts."""
    now, lyric_ticks, starts = 0, set(), []
    for message in track:
        now += message.time
        if message.type == "lyrics":
            lyric_ticks.add(now)
        elif message.type == "note_on" and message.velocity > 0:
            starts.append((now, message.note))
    return [pitch for tick, pitch in starts if tick in lyric_ticks]


def test_lrc_lines_start_where_their_first_syllable_is_sung(sung) -> None:
    files, recipe = sung
    lrc = files["lrc"].read_text().splitlines()
    assert [line.split("]", 1)[1] for line in lrc] == lines_of(LYRICS)
    song = mido.MidiFile(files["midi"])
    vocal = next(t for t in song.tracks if t.name == "vocal")
    seconds_per_tick = 60 / recipe["style"]["bpm"] / song.ticks_per_beat
    now, times = 0, []
    for message in vocal:
        now += message.time
        if message.type == "lyrics":
            times.append(now * seconds_per_tick)
    cursor = 0
    for entry, line in zip(lrc, lines_of(LYRICS), strict=True):
        minutes, seconds = re.match(r"\[(\d+):([\d.]+)\]", entry).groups()
        assert abs(int(minutes) * 60 + float(seconds) - times[cursor]) < 0.01
        cursor += len(line_syllables(line))


def test_the_chorus_sings_the_same_tune_to_the_same_words(sung) -> None:
    files, _ = sung
    vocal = next(t for t in mido.MidiFile(files["midi"]).tracks if t.name == "vocal")
    pitches = syllable_pitches(vocal)
    counts = [len(line_syllables(line)) for line in lines_of(LYRICS)]
    offsets = np.cumsum([0, *counts])
    chorus_one = pitches[offsets[2] : offsets[4]]
    chorus_two = pitches[offsets[6] : offsets[8]]
    assert chorus_one == chorus_two


def test_the_vocal_is_its_own_stem_and_sings_only_over_the_words(sung) -> None:
    files, recipe = sung
    audio, rate = sf.read(files["stem:vocal"])
    first_line = float(re.match(r"\[(\d+):([\d.]+)\]", files["lrc"].read_text()).group(2))
    assert np.abs(audio[: int((first_line - 0.4) * rate)]).max() < 1e-4  # a breath comes just before
    assert np.sqrt(np.mean(audio[int(first_line * rate) : int((first_line + 2) * rate)] ** 2)) > 1e-3
    assert [s["kind"] for s in recipe["structure"]] == ["intro", "verse", "chorus", "verse", "chorus", "outro"]


def test_lyrics_longer_than_the_song_are_refused(tmp_path: Path) -> None:
    request = GenerateRequest(prompt="pop", lyrics=LYRICS, duration=10, seed=1)
    with pytest.raises(InputError, match=r"duration holds 3; ask for a duration of at least \d+ s"):
        ProceduralEngine().run(request, RunContext(seed=1, scratch=tmp_path))
