"""Tempo and key estimation on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from cadenza.media.analysis import estimate_key, estimate_tempo

RATE = 44100


def click_track(bpm: float, seconds: float = 20.0, off_beats: float = 0.0) -> np.ndarray:
    """A click on every beat from 0.1 s, and optionally quieter clicks on the off-beats."""
    audio = np.zeros(int(seconds * RATE), np.float32)
    rng = np.random.default_rng(0)
    beat = 60 / bpm
    n = int(0.03 * RATE)
    for index, start in enumerate(np.arange(0.1, seconds - 0.2, beat / 2)):
        level = 1.0 if index % 2 == 0 else off_beats
        audio[int(start * RATE) : int(start * RATE) + n] += level * rng.standard_normal(n) * np.exp(-np.arange(n) / 300)
    return audio


@pytest.mark.parametrize("bpm", [60, 72, 96, 128, 174])
def test_tempo_and_beat_phase_of_a_click_track(bpm: float) -> None:
    measured = estimate_tempo(click_track(bpm), RATE)
    assert abs(measured.bpm - bpm) / bpm < 0.02
    assert measured.beat_phase_s == pytest.approx(0.1, abs=0.02)


@pytest.mark.parametrize("bpm", [90, 120])
def test_quiet_off_beats_do_not_double_the_tempo(bpm: float) -> None:
    assert abs(estimate_tempo(click_track(bpm, off_beats=0.05), RATE).bpm - bpm) / bpm < 0.02


def chord_loop(tonic: int, minor: bool, seconds: float = 12.0) -> np.ndarray:
    third = 3 if minor else 4
    progression = [(0, third, 7), (5, 9 if not minor else 8, 12), (7, 11, 14), (0, third, 7)]
    t = np.arange(int(seconds / 4 * RATE)) / RATE
    parts = []
    for chord in progression:
        tones = [440 * 2 ** ((60 + tonic + step - 69) / 12) for step in chord]
        parts.append(sum(np.sin(2 * np.pi * f * t) for f in tones) * np.exp(-t))
    return np.concatenate(parts).astype(np.float32)


@pytest.mark.parametrize(("tonic", "minor"), [(0, False), (9, True), (7, False), (2, True), (6, False)])
def test_key_of_a_cadence(tonic: int, minor: bool) -> None:
    key = estimate_key(chord_loop(tonic, minor), RATE)
    assert (key.tonic, key.mode) == (tonic, "minor" if minor else "major")
