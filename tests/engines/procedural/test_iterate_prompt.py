"""`edit --prompt` and `extend --prompt` change what the new bars play, measured on the stems."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from cadenza.jobs.service import JobService
from tests.engines.procedural.conftest import run


def stems(studio: JobService, job) -> dict[str, np.ndarray]:
    found = {a.role: studio.settings.home / a.path for a in job.artifacts if a.role.startswith("stem:")}
    return {role[5:]: sf.read(path, dtype="float32")[0] for role, path in found.items()}


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio**2)) + 1e-12)


@pytest.fixture(scope="module")
def song(studio: JobService):
    return run(studio, "generate", prompt="pop song", duration=24, seed=8)


def test_edit_prompt_brings_its_instrument_into_the_range_only(studio: JobService, song) -> None:
    edit = run(studio, "edit", source=song.id, start=6, end=14, seed=3, prompt="a saxophone solo")
    operation = edit.recipe["operations"][-1]
    assert operation["prompt"] == "a saxophone solo"
    before, after = stems(studio, song), stems(studio, edit)
    new = set(after) - set(before)
    assert new == {"alto-sax"}, new
    sax = after["alto-sax"]
    start, end = round(operation["start_s"] * 44100), round(operation["end_s"] * 44100)
    assert rms(sax[start:end]) > 100 * rms(np.concatenate([sax[: start - 4410], sax[end + 44100 :]]))


def test_extend_prompt_changes_the_new_bars(studio: JobService, song) -> None:
    plain = run(studio, "extend", source=song.id, seconds=12, seed=6)
    strings = run(studio, "extend", source=song.id, seconds=12, seed=6, prompt="with strings and a flute")
    join = round(strings.recipe["operations"][-1]["join_s"] * 44100)
    plain_stems, string_stems = stems(studio, plain), stems(studio, strings)
    assert {"flute", "string-ensemble-1"} <= set(string_stems) - set(plain_stems)
    flute = string_stems["flute"]
    assert rms(flute[join + 4410 :]) > 100 * rms(flute[: join - 4410])  # only the new bars play it
    for name in set(plain_stems) & set(string_stems):  # the kept song is the same song
        assert np.array_equal(plain_stems[name][: join - 4410], string_stems[name][: join - 4410]), name
