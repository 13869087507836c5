"""The built-in synthesiser: a wavetable voice per General MIDI family and synthesised drums.

It is the fallback when tinysoundfont or every SoundFont is missing, so that `pip install cadenza` alone
still makes music; `cadenza engines` says when it is in use. Sampled SoundFont instruments sound better.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from cadenza.engines.procedural.score import Score, Track

TABLE_SIZE = 2048

# family (program // 8) -> (harmonic rolloff, odd-only, attack s, decay time constant s or 0 to sustain, release s)
FAMILIES = {
    0: (1.6, False, 0.002, 0.9, 0.25),  # piano
    1: (2.2, False, 0.001, 0.5, 0.3),  # chromatic percussion
    2: (1.2, True, 0.01, 0.0, 0.08),  # organ
    3: (1.4, False, 0.002, 0.7, 0.2),  # guitar
    4: (2.0, False, 0.003, 1.2, 0.08),  # bass
    5: (1.1, False, 0.08, 0.0, 0.35),  # strings
    6: (1.2, False, 0.12, 0.0, 0.5),  # ensemble
    7: (1.0, False, 0.03, 0.0, 0.15),  # brass
    8: (1.3, True, 0.03, 0.0, 0.12),  # reed
    9: (2.5, False, 0.04, 0.0, 0.15),  # pipe
    10: (1.0, False, 0.005, 0.0, 0.1),  # synth lead
    11: (1.5, False, 0.3, 0.0, 0.8),  # synth pad
}


@cache
def _table(rolloff: float, odd_only: bool) -> np.ndarray:
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE
    wave = np.zeros(TABLE_SIZE)
    for harmonic in range(1, 24):
        if odd_only and harmonic % 2 == 0:
            continue
        wave += np.sin(2 * np.pi * harmonic * phase) / harmonic**rolloff
    return (wave / np.abs(wave).max()).astype(np.float32)


def _tone(pitch: int, velocity: int, seconds: float, program: int, sample_rate: int) -> np.ndarray:
    rolloff, odd, attack, decay, release = FAMILIES.get(program // 8, FAMILIES[10])
    length = int((seconds + release) * sample_rate)
    t = np.arange(length, dtype=np.float32) / sample_rate
    frequency = 440.0 * 2 ** ((pitch - 69) / 12)
    wave = _table(rolloff, odd)[((t * frequency * TABLE_SIZE).astype(np.int64)) % TABLE_SIZE]
    env = np.minimum(1.0, t / max(attack, 1e-4))
    if decay:
        env *= np.exp(-t / (decay * (1.5 if pitch < 48 else 1.0)))
    held = int(seconds * sample_rate)
    env[held:] *= np.exp(-(t[held:] - seconds) / (release / 4))
    return wave * env * (velocity / 127) ** 1.5 * 0.3


def _drum(key: int, velocity: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    length = int(0.6 * sample_rate) if key in (49, 51, 46) else int(0.35 * sample_rate)
    t = np.arange(length, dtype=np.float32) / sample_rate
    noise = rng.standard_normal(length).astype(np.float32)
    if key in (35, 36):
        sweep = 2 * np.pi * (45 * t + (120 - 45) * 0.04 * (1 - np.exp(-t / 0.04)))
        sound = np.sin(sweep) * np.exp(-t / 0.18)
    elif key in (38, 39, 40, 37):
        sound = 0.6 * noise * np.exp(-t / 0.06) + 0.5 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)
    elif key in (45, 47, 48, 50):
        base = {45: 100, 47: 130, 48: 150, 50: 170}[key]
        sound = np.sin(2 * np.pi * base * t * (1 - 0.2 * t)) * np.exp(-t / 0.2)
    else:
        bright = np.diff(noise, prepend=0.0)
        sound = 0.4 * bright * np.exp(-t / (0.25 if key in (49, 51, 46) else 0.03))
    return (sound * (velocity / 127) * 0.6).astype(np.float32)


def render_track(track: Track, score: Score, sample_rate: int, frames: int, check: Callable[[], None]) -> np.ndarray:
    """Stereo float32 audio of one track, `frames` long."""
    mono = np.zeros(frames + sample_rate * 2, dtype=np.float32)
    rng = np.random.default_rng(track.program + 1000 * track.is_drum)
    for index, note in enumerate(track.notes):
        start = round(score.seconds(note.start) * sample_rate)
        if start >= frames:
            continue
        if track.is_drum:
            sound = _drum(note.pitch, note.velocity, sample_rate, rng)
        else:
            sound = _tone(note.pitch, note.velocity, score.seconds(note.duration), track.program, sample_rate)
        end = min(len(mono), start + len(sound))
        mono[start:end] += sound[: end - start]
        if index % 64 == 0:
            check()
    return np.repeat(mono[:frames, None], 2, axis=1)
