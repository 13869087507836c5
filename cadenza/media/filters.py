"""IIR filters run block by block along the first axis, writing float32 results into a buffer.

scipy computes in float64, so filtering a whole song at once holds two float64 copies of it (four
times a float32 stem). Carrying the filter state from block to block is the same recursion with the
same arithmetic, so the result is the same to the bit while the float64 temporaries stay one block
long.
"""

from __future__ import annotations

import numpy as np

BLOCK_FRAMES = 1 << 16


def sosfilt_into(sos: np.ndarray, audio: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`scipy.signal.sosfilt(sos, audio, axis=0).astype(np.float32)`, written into `out` (a new float32
    array when None; `audio` itself is fine)."""
    from scipy.signal import sosfilt

    out = np.empty(audio.shape, np.float32) if out is None else out
    state = np.zeros((len(sos), 2, *audio.shape[1:]))
    for start in range(0, len(audio), BLOCK_FRAMES):
        block, state = sosfilt(sos, audio[start : start + BLOCK_FRAMES], axis=0, zi=state)
        out[start : start + BLOCK_FRAMES] = block
    return out


def lfilter_into(b: np.ndarray, a: np.ndarray, signal: np.ndarray, out: np.ndarray) -> np.ndarray:
    """`out[:] = scipy.signal.lfilter(b, a, signal)` for a 1-D signal (`out` may be `signal` itself)."""
    from scipy.signal import lfilter

    state = np.zeros(max(len(a), len(b)) - 1)
    for start in range(0, len(signal), BLOCK_FRAMES):
        block, state = lfilter(b, a, signal[start : start + BLOCK_FRAMES], zi=state)
        out[start : start + BLOCK_FRAMES] = block
    return out
