"""What the visuals follow in the audio: per-frame spectrum and level, the waveform, and the beat grid.

Everything is computed once, vectorised, before the first frame is drawn. A Cadenza song's beats come
exactly from its recipe (tempo, time signature, beat one at 0 s); other audio is measured with the
project's tempo and beat-phase estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.engines.base import SourceFile
from cadenza.media.io import read_audio

FFT = 2048
BANDS = 48
WAVE_POINTS = 256


@dataclass
class Features:
    spectrum: np.ndarray  # (frames, BANDS) in [0, 1], low to high
    level: np.ndarray  # (frames,) in [0, 1]
    wave: np.ndarray  # (frames, WAVE_POINTS) in [-1, 1]
    pulse: np.ndarray  # (frames,) in [0, 1]: 1 on a beat's frame, decaying until the next
    downbeat: np.ndarray  # (frames,) bool: the frames of bar lines
    beats: np.ndarray  # beat times, seconds
    bpm: float
    beat_source: str  # "recipe" or "estimated"


def load_mono(path: Path) -> tuple[np.ndarray, int]:
    audio, sample_rate = read_audio(path)
    return audio.mean(axis=1).astype(np.float32), sample_rate


def analyse(source: SourceFile, fps: int, frames: int) -> Features:
    mono, sample_rate = load_mono(source.path)
    spectrum, level, wave = frame_features(mono, sample_rate, fps, frames)
    bpm, beats, bar_beats, origin = beat_grid(source.recipe, mono, sample_rate)
    pulse, downbeat = beat_pulse(beats, bar_beats, bpm, fps, frames)
    return Features(spectrum, level, wave, pulse, downbeat, beats, bpm, origin)


def frame_features(mono: np.ndarray, sample_rate: int, fps: int, frames: int) -> tuple[np.ndarray, ...]:
    """Log-band spectrum, RMS level and a waveform snippet for the window centred on each frame."""
    hop = sample_rate / fps
    padded = np.pad(mono, (FFT, FFT + int(hop * frames) + 1))
    starts = (np.arange(frames) * hop).astype(np.int64) + FFT // 2
    window = np.hanning(FFT).astype(np.float32)
    freqs = np.fft.rfftfreq(FFT, 1 / sample_rate)
    edges = np.geomspace(35.0, min(16_000.0, sample_rate / 2 - 1), BANDS + 1)
    band_of = np.clip(np.searchsorted(edges, freqs) - 1, -1, BANDS)
    valid = (band_of >= 0) & (band_of < BANDS)
    counts = np.maximum(np.bincount(band_of[valid], minlength=BANDS), 1)
    onehot = np.zeros((len(freqs), BANDS), np.float32)
    onehot[np.flatnonzero(valid), band_of[valid]] = 1.0 / counts[band_of[valid]]
    spectrum = np.empty((frames, BANDS), np.float32)
    level = np.empty(frames, np.float32)
    wave = np.empty((frames, WAVE_POINTS), np.float32)
    offsets = np.arange(FFT)
    picks = np.linspace(0, FFT - 1, WAVE_POINTS).astype(np.int64)
    for start in range(0, frames, 512):
        rows = starts[start : start + 512, None] + offsets
        chunk = padded[rows]
        magnitude = np.abs(np.fft.rfft(chunk * window, axis=1)).astype(np.float32)
        spectrum[start : start + 512] = magnitude @ onehot
        level[start : start + 512] = np.sqrt((chunk**2).mean(axis=1))
        wave[start : start + 512] = chunk[:, picks]
    decibels = 20 * np.log10(spectrum + 1e-6)
    top = np.percentile(decibels, 99.5) if frames else 0.0
    spectrum = np.clip((decibels - (top - 60.0)) / 60.0, 0.0, 1.0)
    spectrum = _release(spectrum, 0.75)
    level = level / max(float(level.max(initial=0.0)), 1e-6)
    wave = wave / max(float(np.abs(wave).max(initial=0.0)), 1e-6)
    return spectrum, level.astype(np.float32), wave


def _release(values: np.ndarray, keep: float) -> np.ndarray:
    """Instant attack, exponential release: bars jump up with a hit and fall back smoothly."""
    out = values.copy()
    for index in range(1, len(out)):
        np.maximum(out[index], out[index - 1] * keep, out=out[index])
    return out


def beat_grid(recipe: dict[str, Any] | None, mono: np.ndarray, sample_rate: int) -> tuple[float, np.ndarray, int, str]:
    """(bpm, beat times, beats per bar, where the grid came from)."""
    seconds = len(mono) / sample_rate
    style = (recipe or {}).get("style") or {}
    if style.get("bpm"):
        bpm = float(style["bpm"])
        numerator, denominator = (int(x) for x in str(style.get("time_signature", "4/4")).split("/"))
        quarters = numerator * 4 / denominator
        bar_beats = int(quarters) if float(quarters).is_integer() else numerator
        return bpm, np.arange(0.0, seconds, 60.0 / bpm), bar_beats, "recipe"
    from cadenza.media.analysis import estimate_tempo

    estimate = estimate_tempo(mono, sample_rate)
    period = 60.0 / estimate.bpm
    return estimate.bpm, np.arange(estimate.beat_phase_s % period, seconds, period), 4, "estimated"


def beat_pulse(beats: np.ndarray, bar_beats: int, bpm: float, fps: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """1.0 on the frame nearest each beat, decaying exponentially until the next one."""
    beat_frames = np.unique(np.round(beats * fps).astype(np.int64))
    beat_frames = beat_frames[(beat_frames >= 0) & (beat_frames < frames)]
    pulse = np.zeros(frames, np.float32)
    downbeat = np.zeros(frames, bool)
    if len(beat_frames) == 0:
        return pulse, downbeat
    index = np.arange(frames)
    last = np.searchsorted(beat_frames, index, side="right") - 1
    since = index - beat_frames[np.maximum(last, 0)]
    decay = max(1.0, 0.35 * fps * 60.0 / bpm)
    pulse = np.where(last >= 0, np.exp(-since / decay), 0.0).astype(np.float32)
    bar_lines = np.unique(np.round(beats[::bar_beats] * fps).astype(np.int64))
    downbeat[bar_lines[(bar_lines >= 0) & (bar_lines < frames)]] = True
    return pulse, downbeat
