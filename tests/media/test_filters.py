"""Block-by-block filtering must give exactly what one whole-song scipy call gives: songs' bytes depend on it."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from cadenza.media.filters import BLOCK_FRAMES, lfilter_into, sosfilt_into

RATE = 44100


def _signal(frames: int, channels: int | None, dtype: type) -> np.ndarray:
    rng = np.random.default_rng(frames)
    shape = (frames,) if channels is None else (frames, channels)
    audio = rng.standard_normal(shape) * 0.3 + 0.05  # an offset, so the filters' state matters across blocks
    return audio.astype(dtype)


def test_sosfilt_in_blocks_equals_one_call_to_the_bit() -> None:
    sections = butter(2, 40.0, btype="highpass", fs=RATE, output="sos")
    for frames in (BLOCK_FRAMES * 3 + 17, 100):
        for channels, dtype in ((2, np.float32), (None, np.float64), (1, np.float32)):
            audio = _signal(frames, channels, dtype)
            expected = sosfilt(sections, audio, axis=0).astype(np.float32)
            assert np.array_equal(sosfilt_into(sections, audio), expected)
            if dtype is np.float32:  # written over its own input
                own = audio.copy()
                assert sosfilt_into(sections, own, out=own) is own
                assert np.array_equal(own, expected)


def test_lfilter_in_blocks_equals_one_call_to_the_bit() -> None:
    b, a = butter(2, 1500.0, btype="highpass", fs=RATE)
    signal = _signal(BLOCK_FRAMES * 2 + 5, None, np.float32)
    expected = lfilter(b, a, signal).astype(np.float32)
    assert np.array_equal(lfilter_into(b, a, signal.copy(), np.empty_like(signal)), expected)
    assert np.array_equal(lfilter_into(b, a, signal, signal), expected)
