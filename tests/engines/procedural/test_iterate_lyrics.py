"""`edit` and `extend` of a song with lyrics keep its sung words, measured on the vocal stem and the MIDI."""

from __future__ import annotations

import re

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from cadenza.jobs.service import JobService
from tests.engines.procedural.conftest import run

pyworld = pytest.importorskip("pyworld")

LYRICS = """[Verse]
the city sleeps beneath the rain
we walk along the silver light

[Chorus]
hold on to me tonight
under the yellow light
"""
RATE = 16000  # pitch analysis rate
CROSSFADE = 0.025  # half of the edit's crossfade, seconds


def files(studio: JobService, job) -> dict:
    return {a.role: studio.settings.home / a.path for a in job.artifacts}


def stems(studio: JobService, job) -> dict[str, np.ndarray]:
    return {r[5:]: sf.read(p, dtype="float32")[0] for r, p in files(studio, job).items() if r.startswith("stem:")}


def lyric_events(studio: JobService, job) -> list[str]:
    song = mido.MidiFile(files(studio, job)["midi"])
    vocal = next(t for t in song.tracks if t.name == "vocal")
    return [m.text for m in vocal if m.type == "lyrics"]


def lrc(studio: JobService, job) -> list[tuple[float, str]]:
    lines = []
    for raw in files(studio, job)["lrc"].read_text().splitlines():
        match = re.match(r"\[(\d+):([\d.]+)\](.*)", raw)
        assert match, raw
        lines.append((int(match[1]) * 60 + float(match[2]), match[3]))
    return lines


def vocal_notes(studio: JobService, job) -> list[pretty_midi.Note]:
    midi = pretty_midi.PrettyMIDI(str(files(studio, job)["midi"]))
    return next(i for i in midi.instruments if i.name == "vocal").notes


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio**2)) + 1e-12)


def on_pitch(vocal: np.ndarray, notes: list[pretty_midi.Note], start: float, end: float) -> float:
    """Share of the voiced 10 ms frames in [start, end) s whose F0 (WORLD) is within 50 cents of the note
    written there, over frames inside a note and away from its edges (glides and consonants)."""
    mono = resample_poly(vocal.mean(axis=1).astype(np.float64), RATE, 44100)
    f0, times = pyworld.dio(mono, RATE, f0_floor=70.0, f0_ceil=1000.0, frame_period=10.0)
    f0 = pyworld.stonemask(mono, f0, times, RATE)
    hits = total = 0
    for note in notes:
        if not start <= note.start < end or note.end - note.start < 0.2:
            continue
        frames = (times >= note.start + 0.06) & (times < note.end - 0.03) & (f0 > 0)
        cents = 1200 * np.log2(f0[frames] / (440.0 * 2 ** ((note.pitch - 69) / 12)))
        hits += int(np.sum(np.abs(cents) <= 50))
        total += len(cents)
    assert total > 50, "no voiced frames to judge"
    return hits / total


@pytest.fixture(scope="module")
def song(studio: JobService):
    # 120 bpm, 2 s bars: intro, verse (lines at 6 and 10 s), chorus (14 and 18 s), outro.
    return run(studio, "generate", prompt="pop song", lyrics=LYRICS, duration=30, bpm=120, seed=8)


def test_an_edit_keeps_the_vocal_outside_the_range_and_sings_its_words_inside(studio: JobService, song) -> None:
    edit = run(studio, "edit", source=song.id, start=10, end=18, seed=3)
    operation = edit.recipe["operations"][-1]
    start_s, end_s = operation["start_s"], operation["end_s"]
    assert (start_s, end_s) == (10.0, 18.0)
    before, after = stems(studio, song), stems(studio, edit)
    assert set(before) == set(after)  # no lead instrument joins over the singer
    head, tail = round((start_s - CROSSFADE) * 44100), round((end_s + CROSSFADE) * 44100)
    for name, audio in before.items():  # every stem, the vocal too, sample for sample outside the range
        assert np.array_equal(audio[:head], after[name][:head]), name
        assert np.array_equal(audio[tail:], after[name][tail:]), name
    kept = np.concatenate([after["vocal"][6 * 44100 : 10 * 44100], after["vocal"][18 * 44100 : 22 * 44100]])
    inside = after["vocal"][round(start_s * 44100) : round(end_s * 44100)]
    assert rms(kept) > 0.02 and rms(inside) > 0.5 * rms(kept)  # sung before, inside and after the range
    # The lines in the range are sung again to a new tune: the same words, other notes, on pitch.
    assert lyric_events(studio, edit) == lyric_events(studio, song)
    assert lrc(studio, edit) == lrc(studio, song)
    old = [(n.start, n.pitch) for n in vocal_notes(studio, song) if start_s <= n.start < end_s]
    new = [(n.start, n.pitch) for n in vocal_notes(studio, edit) if start_s <= n.start < end_s]
    assert [s for s, _ in old] == [s for s, _ in new] and old != new
    assert on_pitch(after["vocal"], vocal_notes(studio, edit), start_s, end_s) >= 0.8
    assert (
        20 * np.log10(rms(inside - before["vocal"][round(start_s * 44100) : round(end_s * 44100)]) / rms(inside)) > -10
    )


def test_an_extension_keeps_the_vocal_and_sings_the_chorus_again(studio: JobService, song) -> None:
    longer = run(studio, "extend", source=song.id, seconds=20, seed=6)
    join = longer.recipe["operations"][-1]["join_s"]
    before, after = stems(studio, song), stems(studio, longer)
    kept = round(join * 44100) - 4410
    for name, audio in before.items():
        assert np.array_equal(audio[:kept], after[name][:kept]), name
    words = lyric_events(studio, song)
    assert lyric_events(studio, longer)[: len(words)] == words
    lines, again = lrc(studio, longer), [line for line in lrc(studio, longer) if line[0] > join]
    assert lines[: len(lrc(studio, song))] == lrc(studio, song)
    chorus = LYRICS.split("[Chorus]")[1].split()
    assert again and all(set(text.split()) <= set(chorus) for _, text in again), again
    sung = after["vocal"][round(again[0][0] * 44100) : round((again[-1][0] + 3.5) * 44100)]
    assert rms(sung) > 0.5 * rms(after["vocal"][6 * 44100 : 22 * 44100])
    assert on_pitch(after["vocal"], vocal_notes(studio, longer), again[0][0], again[-1][0] + 4) >= 0.8
    assert "lyrics" in files(studio, longer) and again[0][1] in files(studio, longer)["lyrics"].read_text()
