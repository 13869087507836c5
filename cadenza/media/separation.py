"""Harmonic/percussive separation by median filtering of the spectrogram (Fitzgerald 2010).

Sustained notes are horizontal lines in a spectrogram, hits are vertical ones: a median along time
keeps the first, along frequency the second; soft masks split each bin between them. The percussive
part is the input minus the harmonic part, so the two always sum back to the input exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

WINDOW = 2048
HOP = 512
KERNEL = 17


def hpss(audio: np.ndarray, check: Callable[[], None] = lambda: None) -> tuple[np.ndarray, np.ndarray]:
    """(harmonic, percussive) of (frames, channels) audio."""
    from scipy.ndimage import median_filter
    from scipy.signal import istft, stft

    frames = audio if audio.ndim == 2 else audio[:, None]
    harmonic = np.zeros_like(frames, dtype=np.float32)
    for channel in range(frames.shape[1]):
        _, _, spectrum = stft(frames[:, channel], nperseg=WINDOW, noverlap=WINDOW - HOP)
        magnitude = np.abs(spectrum)
        check()
        along_time = median_filter(magnitude, size=(1, KERNEL), mode="nearest")
        check()
        along_frequency = median_filter(magnitude, size=(KERNEL, 1), mode="nearest")
        mask = along_time**2 / (along_time**2 + along_frequency**2 + 1e-12)
        _, signal = istft(spectrum * mask, nperseg=WINDOW, noverlap=WINDOW - HOP)
        harmonic[:, channel] = signal[: len(frames)]
        check()
    percussive = frames.astype(np.float32) - harmonic
    return (harmonic, percussive) if audio.ndim == 2 else (harmonic[:, 0], percussive[:, 0])
