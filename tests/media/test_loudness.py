"""Mastering: loudness target, true-peak ceiling, and the meter itself."""

from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy.signal import resample_poly

from cadenza.media.loudness import integrated_loudness, limit, master, true_peak_db

RATE = 44100


def music_like(seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tones = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / k for k, f in enumerate((110, 220, 330, 523), 1))
    beats = (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.standard_normal(len(t)) * 0.8
    mono = 0.2 * tones * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t)) + beats
    return np.stack([mono, np.roll(mono, 17)], axis=1).astype(np.float32)


def reference_true_peak(audio: np.ndarray) -> float:
    return 20 * np.log10(np.abs(resample_poly(audio, 4, 1, axis=0)).max())


def test_true_peak_agrees_with_full_oversampling() -> None:
    for gain in (0.3, 1.0, 3.0):
        audio = music_like() * gain
        assert abs(true_peak_db(audio, RATE) - reference_true_peak(audio)) < 0.1


def test_inter_sample_peaks_are_caught() -> None:
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * (RATE / 4) * t + np.pi / 4).astype(np.float32)[:, None]  # samples miss the crests
    assert 20 * np.log10(np.abs(tone).max()) < -2.5
    assert true_peak_db(tone, RATE) > -0.2


def test_limiter_holds_the_ceiling_without_makeup_gain() -> None:
    audio = music_like() * 4
    limited = limit(audio, RATE, -3.0)
    assert np.abs(limited).max() <= 10 ** (-3 / 20) + 1e-6
    quiet = music_like() * 0.05
    assert np.array_equal(limit(quiet, RATE, -3.0), quiet)


def test_master_reaches_the_target_under_the_ceiling() -> None:
    for gain in (0.02, 0.5, 4.0):
        mastered, report = master(music_like() * gain, RATE, -14.0, -1.0)
        measured = pyloudnorm.Meter(RATE).integrated_loudness(mastered.astype(np.float64))
        assert abs(measured + 14.0) <= 0.5
        assert reference_true_peak(mastered) <= -1.0 + 0.05
        assert abs(report.output_lufs - measured) < 0.05
        assert report.input_lufs < -20 if gain == 0.02 else True


def test_silence_is_left_alone() -> None:
    silence = np.zeros((RATE, 2), np.float32)
    mastered, report = master(silence, RATE)
    assert not mastered.any()
    assert report.output_lufs == integrated_loudness(silence, RATE)


def test_loudness_is_pyloudnorms_to_the_bit() -> None:
    """The meter squares each filtered channel once, but must measure exactly what pyloudnorm measures
    (mastering gains, and so the mastered bytes, follow from it)."""
    rng = np.random.default_rng(4)
    for frames, channels in ((RATE * 12, 2), (RATE * 3, 1), (int(0.4 * RATE) + 1, 2)):
        ramp = np.linspace(0.0005, 0.6, frames, dtype=np.float32)[:, None]
        audio = (rng.standard_normal((frames, channels)) * ramp).astype(np.float32)
        audio[: frames // 3] *= 0.001  # a quiet stretch, so both gates drop blocks
        expected = float(pyloudnorm.Meter(RATE).integrated_loudness(audio.copy()))
        assert integrated_loudness(audio, RATE) == expected
