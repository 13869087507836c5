"""Loudness (ITU-R BS.1770-4 via pyloudnorm), true peak, and mastering to a loudness target under a
true-peak ceiling.

True peak is measured on 4x oversampled audio, as BS.1770 asks. The limiter is ours because pedalboard's Limiter adds
makeup gain and a -10 dB first-stage compressor, which would colour the mix; ours only ever lowers gain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

import numpy as np

BLOCK_SECONDS = 0.4
OVERSAMPLING, OVERSAMPLING_HALF_TAPS = 4, 40  # the filter resample_poly designs
SILENCE_LUFS = -120.0
MASTER_ITERATIONS = 8
LOUDNESS_TOLERANCE_LU = 0.2
LIMITER_BLOCK = 32
LIMITER_CHUNK = 1 << 16
TRUE_PEAK_CANDIDATES = 1 << 14


def _as_frames(audio: np.ndarray) -> np.ndarray:
    return audio[:, None] if audio.ndim == 1 else audio


def _frame_peaks(frames: np.ndarray) -> np.ndarray:
    """The largest magnitude of each frame across channels (`np.abs(frames).max(axis=1)`, which numpy
    reduces slowly over a short inner axis: channel by channel is about six times faster)."""
    peaks = np.abs(frames[:, 0])
    scratch = np.empty(min(len(frames), LIMITER_CHUNK), dtype=peaks.dtype)
    for channel in range(1, frames.shape[1]):
        for start in range(0, len(frames), LIMITER_CHUNK):  # no song-long temporary for the other channels
            stop = min(len(frames), start + LIMITER_CHUNK)
            magnitude = np.abs(frames[start:stop, channel], out=scratch[: stop - start])
            np.maximum(peaks[start:stop], magnitude, out=peaks[start:stop])
    return peaks


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of (frames, channels) audio (pyloudnorm's algorithm); -120 for silence."""
    frames = np.ascontiguousarray(_as_frames(audio), dtype=np.float32)
    minimum = int(BLOCK_SECONDS * sample_rate) + 1
    if frames.shape[0] < minimum:
        frames = np.pad(frames, ((0, minimum - frames.shape[0]), (0, 0)))
    with np.errstate(divide="ignore"):
        loudness = float(_gated_loudness(_block_powers(frames, sample_rate)))
    return loudness if np.isfinite(loudness) else SILENCE_LUFS


@cache
def _k_weighting(sample_rate: int) -> tuple:
    import pyloudnorm

    return tuple(pyloudnorm.Meter(sample_rate)._filters.values())


def _block_powers(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """pyloudnorm 0.2's K-weighted mean square of every 400 ms block (75% overlap), channel by channel,
    with its arithmetic kept to the bit (float32 stages, float32 sums), but each channel filtered as one
    contiguous array and squared once instead of once per overlapping block."""
    from scipy.signal import lfilter

    from cadenza.media.filters import lfilter_into

    block = BLOCK_SECONDS
    step = 1.0 - 0.75
    seconds = frames.shape[0] / sample_rate
    blocks = int(np.round((seconds - block) / (block * step)) + 1)
    powers = np.zeros((frames.shape[1], blocks))
    for channel in range(frames.shape[1]):
        weighted = frames[:, channel].copy()
        for stage in _k_weighting(sample_rate):
            if stage.passband_gain == 1.0:
                lfilter_into(stage.b, stage.a, weighted, weighted)
            else:
                weighted[:] = stage.passband_gain * lfilter(stage.b, stage.a, weighted)
        squared = np.square(weighted, out=weighted)
        for j in range(blocks):
            lower = int(block * (j * step) * sample_rate)
            upper = int(block * (j * step + 1) * sample_rate)
            powers[channel, j] = (1.0 / (block * sample_rate)) * np.sum(squared[lower:upper])
    return powers


def _gated_loudness(z: np.ndarray) -> float:
    """pyloudnorm 0.2's gating (BS.1770-4 absolute and relative gates), expression for expression."""
    import warnings

    gains = [1.0, 1.0, 1.0, 1.41, 1.41]
    channels, blocks = z.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        levels = [
            -0.691 + 10.0 * np.log10(np.sum([gains[i] * z[i, j] for i in range(channels)])) for j in range(blocks)
        ]
        kept = [j for j, level in enumerate(levels) if level >= -70.0]
        means = [np.mean([z[i, j] for j in kept]) for i in range(channels)]
        relative = -0.691 + 10.0 * np.log10(np.sum([gains[i] * means[i] for i in range(channels)])) - 10.0
        kept = [j for j, level in enumerate(levels) if (level > relative and level > -70.0)]
        means = np.nan_to_num(np.array([np.mean([z[i, j] for j in kept]) for i in range(channels)]))
    return -0.691 + 10.0 * np.log10(np.sum([gains[i] * means[i] for i in range(channels)]))


@cache
def _oversampling_phases() -> np.ndarray:
    """The 4x interpolation filter (as `resample_poly` designs it, 49 taps) split into its 4 phases."""
    from scipy.signal import firwin

    taps = firwin(2 * OVERSAMPLING_HALF_TAPS + 1, 1 / OVERSAMPLING, window=("kaiser", 5.0)) * OVERSAMPLING
    taps = np.pad(taps, (0, -len(taps) % OVERSAMPLING))
    return taps.reshape(-1, OVERSAMPLING).T.astype(np.float32)  # (phase, tap)


def true_peak_db(audio: np.ndarray, sample_rate: int) -> float:
    """The peak of the 4x-oversampled signal in dBTP (BS.1770-4 Annex 2).

    Interpolated values are computed only around samples within 3 dB of the sample peak: between
    quieter samples, music does not overshoot the loudest sample, and skipping them makes the
    measurement fast enough to run after every mastering step (tests compare it with a full
    `scipy.signal.resample_poly`).
    """
    frames = _as_frames(np.asarray(audio, dtype=np.float32))
    magnitude = _frame_peaks(frames) if frames.size else np.zeros(0, np.float32)
    peak = float(magnitude.max()) if magnitude.size else 0.0
    if peak == 0.0:
        return SILENCE_LUFS
    phases = _oversampling_phases()
    taps = phases.shape[1]
    candidates = np.flatnonzero(magnitude >= peak * 0.707)
    candidates = np.unique(
        np.clip(np.concatenate([candidates + d for d in range(taps // 2 - 1, taps // 2 + 2)]), 0, len(frames) - 1)
    )
    between = 0.0
    for first in range(0, len(candidates), TRUE_PEAK_CANDIDATES):  # a limited master has many: bound the windows
        chosen = candidates[first : first + TRUE_PEAK_CANDIDATES]
        positions = chosen[:, None] - np.arange(taps)[None, :]  # frames before the song's start read as silence
        windows = frames[np.maximum(positions, 0)]  # (candidate, tap, channel)
        windows[positions < 0] = 0.0
        interpolated = np.swapaxes(windows, 1, 2) @ phases.T  # (candidate, channel, phase)
        between = max(between, float(np.abs(interpolated).max()))
    return 20 * np.log10(max(peak, between))


def limit(
    audio: np.ndarray, sample_rate: int, ceiling_db: float, lookahead_ms: float = 5.0, in_place: bool = False
) -> np.ndarray:
    """A linked-stereo brickwall limiter with lookahead: no sample exceeds `ceiling_db`, no makeup gain.

    The gain curve is built on blocks of 32 samples: each block's needed gain is spread over the
    lookahead before and after it (a minimum filter), smoothed (a moving average shorter than that
    spread, so the smoothing never lifts the gain above what a sample needs), and interpolated back
    to samples; a final per-sample minimum makes the ceiling exact. `in_place` lets it write the result
    over `audio` (float32) rather than into a new array.
    """
    frames = _as_frames(audio)
    ceiling = np.float32(10 ** (ceiling_db / 20))
    peaks = _frame_peaks(frames)
    if peaks.max() <= ceiling:
        return audio if in_place else audio.copy()
    needed = peaks  # computed over the peaks' own memory: a long song is not copied again
    np.minimum(
        np.float32(1.0), np.divide(ceiling, np.maximum(peaks, np.float32(1e-12), out=peaks), out=peaks), out=peaks
    )
    blocks = -(-len(needed) // LIMITER_BLOCK)
    whole = len(needed) // LIMITER_BLOCK * LIMITER_BLOCK
    block_needed = needed[:whole].reshape(-1, LIMITER_BLOCK).min(axis=1)
    if whole < len(needed):  # the last, shorter block (needed gains are at most 1, the old padding)
        block_needed = np.append(block_needed, needed[whole:].min())
    spread = max(2, round(sample_rate * lookahead_ms / 1000 / LIMITER_BLOCK))
    from scipy.ndimage import minimum_filter1d, uniform_filter1d  # here, not at start: ~0.3 s of imports

    held = minimum_filter1d(block_needed, size=2 * spread + 1, mode="nearest")
    smooth = uniform_filter1d(held, size=spread, mode="nearest")
    centres = np.arange(blocks) * LIMITER_BLOCK + LIMITER_BLOCK / 2
    result = frames if in_place else np.empty_like(frames)
    for start in range(0, len(needed), LIMITER_CHUNK):  # the float64 interpolation one chunk at a time
        stop = min(len(needed), start + LIMITER_CHUNK)
        gain = np.interp(np.arange(start, stop).astype(np.float32), centres, smooth).astype(np.float32)
        np.minimum(gain, needed[start:stop], out=gain)
        for channel in range(frames.shape[1]):
            np.multiply(frames[start:stop, channel], gain, out=result[start:stop, channel])
    return result if audio.ndim == 2 else result[:, 0]


@dataclass
class MasterReport:
    input_lufs: float
    input_true_peak_db: float
    output_lufs: float
    output_true_peak_db: float
    target_lufs: float
    ceiling_db: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 2) for k, v in asdict(self).items()}


def master(
    audio: np.ndarray, sample_rate: int, target_lufs: float = -14.0, ceiling_db: float = -1.0
) -> tuple[np.ndarray, MasterReport]:
    """Gain to `target_lufs`, then limit so the true peak stays at or under `ceiling_db`.

    Limiting lowers loudness a little, so gain and limiting alternate until both hold; the loudness and
    true peak in the report are measured on the final audio, never assumed.
    """
    frames = np.asarray(audio, dtype=np.float32)
    input_lufs = integrated_loudness(frames, sample_rate)
    input_peak = true_peak_db(frames, sample_rate)
    if input_lufs <= SILENCE_LUFS:
        return frames.copy(), MasterReport(input_lufs, input_peak, input_lufs, input_peak, target_lufs, ceiling_db)
    sample_ceiling = ceiling_db - 0.3  # room for the peaks between samples
    gain_db, slope = target_lufs - input_lufs, 1.0
    previous: tuple[float, float] | None = None
    tried = np.empty_like(frames)  # each try overwrites the last: one song-long buffer, however many tries
    for _ in range(MASTER_ITERATIONS):
        gained = np.multiply(frames, np.float32(10 ** (gain_db / 20)), out=tried)
        result = limit(gained, sample_rate, sample_ceiling, in_place=True)
        peak = true_peak_db(result, sample_rate)
        if peak > ceiling_db:
            sample_ceiling -= peak - ceiling_db + 0.05
            result = limit(result, sample_rate, sample_ceiling, in_place=True)
            peak = true_peak_db(result, sample_rate)
        loudness = integrated_loudness(result, sample_rate)
        if abs(loudness - target_lufs) <= LOUDNESS_TOLERANCE_LU:
            break
        if previous is not None and gain_db != previous[0]:
            # Limiting makes loudness grow slower than gain: step by the measured slope (secant method).
            slope = min(1.0, max(0.2, (loudness - previous[1]) / (gain_db - previous[0])))
        previous = (gain_db, loudness)
        gain_db += (target_lufs - loudness) / slope
    if peak > ceiling_db:
        result = (result * 10 ** ((ceiling_db - peak - 0.01) / 20)).astype(np.float32)
        loudness, peak = integrated_loudness(result, sample_rate), true_peak_db(result, sample_rate)
    return result, MasterReport(input_lufs, input_peak, loudness, peak, target_lufs, ceiling_db)
