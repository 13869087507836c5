"""Tempo, beat phase and key of audio: what extend and edit need to match other people's music, and
what the tests use to check ours.

Tempo: a spectral-flux onset envelope; its autocorrelation proposes beat periods, and the metrical
level is the one whose beats are clearly accented against the off-beats halfway between them (the
kick and snare land on beats, hats and strums fill the off-beats). Key: a chroma profile correlated
with the key profile of each of the 24 keys (Krumhansl-Schmuckler).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOP = 256
FFT = 2048
CHROMA_FFT = 8192
BASS_WEIGHT = 0.5
MIN_BPM, MAX_BPM = 40.0, 240.0

# Albrecht & Shanahan (2013) key profiles: the Krumhansl-Schmuckler method with weights taken from a
# corpus of common-practice and popular music, which confuse a key with its dominant less often.
MAJOR_PROFILE = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
MINOR_PROFILE = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])


@dataclass(frozen=True)
class TempoEstimate:
    bpm: float
    beat_phase_s: float  # time of the first beat
    confidence: float


@dataclass(frozen=True)
class KeyEstimate:
    tonic: int
    mode: str
    correlation: float


def _mono(audio: np.ndarray) -> np.ndarray:
    return np.asarray(audio, dtype=np.float32).mean(axis=1) if audio.ndim == 2 else np.asarray(audio, np.float32)


def _spectrogram(mono: np.ndarray, size: int = FFT, hop: int = HOP) -> np.ndarray:
    """Magnitude STFT (bins, frames) with a Hann window."""
    if len(mono) < size:
        mono = np.pad(mono, (0, size - len(mono)))
    frames = 1 + (len(mono) - size) // hop
    index = np.arange(size)[None, :] + hop * np.arange(frames)[:, None]
    return np.abs(np.fft.rfft(mono[index] * np.hanning(size).astype(np.float32), axis=1)).T


def onset_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Half-wave rectified log-spectral flux, one value per hop."""
    spectrum = _spectrogram(_mono(audio))
    top = int(8000 * FFT / sample_rate)
    log = np.log1p(100 * spectrum[:top])
    flux = np.maximum(0.0, np.diff(log, axis=1)).sum(axis=0)
    flux = np.concatenate([[0.0], flux])
    flux -= np.convolve(flux, np.ones(32) / 32, mode="same")  # remove the slow loudness trend
    return np.maximum(flux, 0.0)


def _grid_strength(envelope: np.ndarray, period: float, phase: float) -> float:
    positions = np.arange(phase, len(envelope) - 2, period)
    if len(positions) == 0:
        return 0.0
    index = np.round(positions).astype(int)
    neighbours = np.maximum(envelope[index], np.maximum(envelope[np.maximum(index - 1, 0)], envelope[index + 1]))
    return float(neighbours.mean())


def _accent(envelope: np.ndarray, period: float) -> tuple[float, float, float]:
    """(on-beat strength, off-beat strength, best phase in frames) for a beat period in frames."""
    best = (0.0, 0.0, 0.0)
    for phase in np.arange(0, period, 1.0):
        on = _grid_strength(envelope, period, phase)
        if on > best[0]:
            best = (on, _grid_strength(envelope, period, phase + period / 2), phase)
    return best


def estimate_tempo(audio: np.ndarray, sample_rate: int) -> TempoEstimate:
    envelope = onset_envelope(audio, sample_rate)
    rate = sample_rate / HOP
    centred = envelope - envelope.mean()
    spectrum = np.fft.rfft(centred, n=2 * len(centred))
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: len(centred)]
    acf /= acf[0] if acf[0] > 0 else 1.0
    lo, hi = int(rate * 60 / MAX_BPM), int(rate * 60 / MIN_BPM) + 1
    hi = min(hi, len(acf) - 2)
    peaks = [lag for lag in range(max(lo, 2), hi) if acf[lag] > acf[lag - 1] and acf[lag] >= acf[lag + 1]]
    if not peaks:
        return TempoEstimate(120.0, 0.0, 0.0)
    best_lag = max(peaks, key=lambda lag: acf[lag])
    # Candidates: the strongest periodicity and its metrical relatives.
    candidates = {}
    for factor in (0.25, 0.5, 1.0, 2.0, 4.0):
        lag = best_lag * factor
        if lo <= lag <= hi:
            candidates[factor] = _refine(acf, lag)
    # Climb from the fastest pulse: move to the slower level while its beats clearly outweigh the
    # off-beats between them; then keep the beat where listeners tap (a tactus of 55 to 220 bpm).
    ordered = sorted(candidates.values())
    chosen = ordered[0]
    for period in ordered[1:]:
        on, off, _ = _accent(envelope, period)
        if on > 0 and on >= ACCENT_RATIO * off and _related(period, chosen):
            chosen = period
    while 60.0 * rate / chosen < TACTUS_BPM[0] and chosen / 2 >= lo:
        chosen /= 2
    while 60.0 * rate / chosen > TACTUS_BPM[1] and chosen * 2 <= hi:
        chosen *= 2
    confidence = float(acf[round(chosen)])
    period, phase = _fit_beats(envelope, chosen, _beat_phase(envelope, chosen))
    onset_s = phase * HOP / sample_rate + ONSET_LAG_S
    return TempoEstimate(60.0 * rate / period, onset_s % (period / rate), confidence)


def _fit_beats(envelope: np.ndarray, period: float, phase: float) -> tuple[float, float]:
    """Refine period and phase by a weighted least-squares line through the onset peaks near each beat."""
    window = max(1, int(period / 4))
    beats, positions, weights = [], [], []
    for index, guess in enumerate(np.arange(phase, len(envelope) - 1, period)):
        lo, hi = max(1, int(guess) - window), min(len(envelope) - 2, int(guess) + window)
        if hi <= lo:
            continue
        peak = lo + int(np.argmax(envelope[lo : hi + 1]))
        if envelope[peak] <= 0:
            continue
        a, b, c = envelope[peak - 1], envelope[peak], envelope[peak + 1]
        curvature = a - 2 * b + c
        beats.append(index)
        positions.append(peak + (0.5 * (a - c) / curvature if curvature != 0 else 0.0))
        weights.append(b)
    if len(beats) < 4:
        return period, phase
    slope, intercept = np.polyfit(beats, positions, 1, w=np.sqrt(weights))
    if abs(slope - period) > 0.03 * period:  # the fit wandered to another level: keep the estimate
        return period, phase
    return float(slope), float(intercept)


def _beat_phase(envelope: np.ndarray, period: float) -> float:
    """The phase (in frames, to a fifth of a frame) whose beat grid collects the most onset strength."""
    frames = np.arange(len(envelope))
    best_phase, best = 0.0, -1.0
    for phase in np.arange(0.0, period, 0.2):
        strength = float(np.interp(np.arange(phase, len(envelope) - 1, period), frames, envelope).sum())
        if strength > best:
            best_phase, best = phase, strength
    return best_phase


ACCENT_RATIO = 1.5
TACTUS_BPM = (55.0, 220.0)
# The log flux peaks as soon as an onset enters a frame's window, one window (less ~6 ms of Hann ramp)
# before the frame that centres it: the envelope runs this far ahead of the audio (measured on clicks).
ONSET_LAG_S = 0.0403


def _related(slow: float, fast: float) -> bool:
    ratio = slow / fast
    return abs(ratio - round(ratio)) < 0.1 and round(ratio) in (2, 3)


def _refine(acf: np.ndarray, lag: float) -> float:
    """The local autocorrelation maximum near `lag`, with parabolic interpolation."""
    start = round(lag)
    window = max(2, int(lag * 0.06))
    lo, hi = max(1, start - window), min(len(acf) - 2, start + window)
    peak = lo + int(np.argmax(acf[lo : hi + 1]))
    if peak in (lo, hi):  # no periodicity of its own here: keep the exact multiple
        return lag
    a, b, c = acf[peak - 1], acf[peak], acf[peak + 1]
    denominator = a - 2 * b + c
    return peak + (0.5 * (a - c) / denominator if denominator != 0 else 0.0)


def chroma(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Weight per pitch class (C = 0) over the whole signal: melody and chords (250 Hz to 1 kHz) plus
    half as much of the bass line (50 to 250 Hz), which usually states the tonic.

    The spectrum is summed over time with a long window (8192 samples, 5 Hz bins), its running median
    is subtracted to drop broadband noise such as drums, and only its peaks count, each at its
    interpolated frequency, so a low note's window leakage does not spill into the next semitone."""
    from scipy.ndimage import median_filter

    spectrum = _spectrogram(_mono(audio), CHROMA_FFT, CHROMA_FFT // 4).sum(axis=1)
    spectrum = np.maximum(0.0, spectrum - median_filter(spectrum, size=31, mode="nearest"))
    peaks = np.flatnonzero((spectrum[1:-1] > spectrum[:-2]) & (spectrum[1:-1] >= spectrum[2:])) + 1
    left, centre, right = (np.log(spectrum[peaks + d] + 1e-9) for d in (-1, 0, 1))
    curvature = left - 2 * centre + right
    offset = np.where(curvature != 0, 0.5 * (left - right) / np.where(curvature == 0, 1, curvature), 0.0)
    frequencies = (peaks + offset) * sample_rate / CHROMA_FFT
    weights = spectrum[peaks]

    def fold(low: float, high: float) -> np.ndarray:
        band = (frequencies >= low) & (frequencies <= high)
        classes = np.round(69 + 12 * np.log2(frequencies[band] / 440.0)).astype(int) % 12
        profile = np.bincount(classes, weights=weights[band], minlength=12)
        return profile / (profile.sum() or 1.0)

    profile = fold(250, 1000) + BASS_WEIGHT * fold(50, 250)
    return profile / (profile.sum() or 1.0)


def estimate_key(audio: np.ndarray, sample_rate: int) -> KeyEstimate:
    profile = chroma(audio, sample_rate)
    best = KeyEstimate(0, "major", -1.0)
    for tonic in range(12):
        for mode, template in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            correlation = float(np.corrcoef(profile, np.roll(template, tonic))[0, 1])
            if correlation > best.correlation:
                best = KeyEstimate(tonic, mode, correlation)
    return best
