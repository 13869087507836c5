"""Sounds General MIDI lacks, synthesised: an 808 sub-bass that glides, supersaw, chiptune pulse and
triangle, a pluck, a wobble bass, the chiptune and 808 drum kits, and the high-gain guitar chain.

Every voice ends with a DC blocker, so no voice leaves an offset that steps when notes start or stop.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from cadenza.engines.procedural.score import Note, Score, Track

VOICES = ("808", "supersaw", "pulse", "triangle", "pluck", "wobble")
KITS = ("chip", "808")
DC_CUTOFF_HZ = 5.0
PLUCK_ATTACK_S = 0.004  # a 1 ms onset on a stack of bright harmonics is heard as a click, not a pluck


def dc_block(audio: np.ndarray, sample_rate: int, out: np.ndarray | None = None) -> np.ndarray:
    """A one-pole DC blocker (high-pass at about 5 Hz) along the first axis, as float32 into `out`
    (a new array when None; `audio` itself is fine).

    Run as one second-order section, block by block: `sosfilt` does the same float64 arithmetic as
    `lfilter` for a first-order filter (the same bytes out) in half the time.
    """
    from cadenza.media.filters import sosfilt_into

    return sosfilt_into(dc_block_sos(sample_rate), audio, out)


def dc_block_sos(sample_rate: int) -> np.ndarray:
    """The DC blocker as one second-order section (for callers that filter block by block)."""
    pole = 1.0 - 2 * np.pi * DC_CUTOFF_HZ / sample_rate
    return np.array([[1.0, -1.0, 0.0, 1.0, -pole, 0.0]])


def _hz(pitch: float) -> float | np.ndarray:
    return 440.0 * 2 ** ((np.asarray(pitch) - 69) / 12)


def _envelope(frames: int, held: int, sample_rate: int, attack: float, release: float, decay: float = 0.0):
    t = np.arange(frames) / sample_rate
    # A raised-cosine attack: a linear ramp's corner on a loud, saturated wave is a click (the 808 had one).
    env = np.sin(0.5 * np.pi * np.minimum(1.0, t / max(attack, 1e-4))) ** 2
    if decay:
        env = env * np.exp(-t / decay)
    if held < frames:
        env[held:] *= np.exp(-(t[held:] - held / sample_rate) / max(release / 5, 1e-4))
    return env


@cache
def _saw_table(harmonics: int) -> np.ndarray:
    phase = np.arange(4096) / 4096
    wave = sum(np.sin(2 * np.pi * k * phase) / k for k in range(1, harmonics + 1))
    return (wave / np.abs(wave).max()).astype(np.float32)


def _phase(frequency: float | np.ndarray, frames: int, sample_rate: int) -> np.ndarray:
    """Cycles elapsed at each frame for a constant or per-frame frequency."""
    if np.ndim(frequency) == 0:
        return np.arange(frames) * (float(frequency) / sample_rate)
    return np.cumsum(frequency) / sample_rate


def _sub808(note: Note, seconds: float, sample_rate: int, glide_from: int | None) -> np.ndarray:
    frames = int((seconds + 0.12) * sample_rate)
    t = np.arange(frames) / sample_rate
    target = _hz(note.pitch)
    start = _hz(glide_from) if glide_from is not None else target * 2.2
    glide = 0.07 if glide_from is not None else 0.018
    frequency = target + (start - target) * np.exp(-t / glide)
    tone = np.sin(2 * np.pi * _phase(frequency, frames, sample_rate))
    tone = np.tanh(2.2 * tone) / np.tanh(2.2)  # a little saturation, so the sub is heard on small speakers
    return tone * _envelope(frames, int(seconds * sample_rate), sample_rate, 0.002, 0.1, 1.4)


def _supersaw(note: Note, seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    frames = int((seconds + 0.2) * sample_rate)
    table = _saw_table(28 if note.pitch < 60 else 16)
    total = np.zeros(frames, np.float32)
    for detune in (-0.19, -0.11, -0.04, 0.0, 0.04, 0.11, 0.19):
        phase = _phase(_hz(note.pitch + detune), frames, sample_rate) + rng.random()
        total += table[((phase * 4096) % 4096).astype(np.int64)]
    return total / 4.0 * _envelope(frames, int(seconds * sample_rate), sample_rate, 0.012, 0.2)


def _pulse(note: Note, seconds: float, sample_rate: int, duty: float = 0.25) -> np.ndarray:
    frames = int((seconds + 0.01) * sample_rate)
    t = np.arange(frames) / sample_rate
    vibrato = 0.12 * np.clip((t - 0.2) / 0.2, 0, 1) * np.sin(2 * np.pi * 6 * t)
    phase = _phase(_hz(note.pitch + vibrato), frames, sample_rate) % 1.0
    wave = np.where(phase < duty, 1.0, -1.0)
    return 0.45 * (wave - (2 * duty - 1)) * _envelope(frames, int(seconds * sample_rate), sample_rate, 0.001, 0.01)


def _triangle(note: Note, seconds: float, sample_rate: int) -> np.ndarray:
    frames = int((seconds + 0.01) * sample_rate)
    phase = _phase(_hz(note.pitch), frames, sample_rate) % 1.0
    wave = np.round((1 - 4 * np.abs(phase - 0.5)) * 7.5) / 7.5  # 16 levels, as the NES plays it
    return 0.9 * wave * _envelope(frames, int(seconds * sample_rate), sample_rate, 0.001, 0.01)


def _harmonics(note: Note, frames: int, sample_rate: int, weights: Callable[[int, np.ndarray], np.ndarray]):
    """A saw-like tone whose k-th harmonic is scaled by weights(k, t) (a filter that moves in time)."""
    t = np.arange(frames) / sample_rate
    base = float(_hz(note.pitch))
    total = np.zeros(frames)
    # Started half a cycle in, where the saw crosses zero on its ramp: from phase 0 every note would open on
    # the saw's jump, a full-scale step (a click) at each onset.
    for k in range(1, min(40, int(8000 / base)) + 1):
        total += np.sin(2 * np.pi * k * base * t + k * np.pi) / k * weights(k, t)
    return total


def _pluck(note: Note, seconds: float, sample_rate: int) -> np.ndarray:
    frames = int((seconds + 0.25) * sample_rate)
    tone = _harmonics(note, frames, sample_rate, lambda k, t: np.exp(-t * (3 + 9 * k)))
    return 0.8 * tone * _envelope(frames, int(seconds * sample_rate), sample_rate, PLUCK_ATTACK_S, 0.2)


def _wobble(note: Note, seconds: float, sample_rate: int, rate_hz: float) -> np.ndarray:
    frames = int((seconds + 0.05) * sample_rate)
    base = float(_hz(note.pitch))

    def weights(k: int, t: np.ndarray) -> np.ndarray:
        cutoff = base * (1.5 + 14 * (0.5 - 0.5 * np.cos(2 * np.pi * rate_hz * t)))
        return 1.0 / (1.0 + (k * base / cutoff) ** 4)

    tone = np.tanh(1.8 * _harmonics(note, frames, sample_rate, weights))
    return 0.8 * tone * _envelope(frames, int(seconds * sample_rate), sample_rate, 0.004, 0.04)


def _kit_hit(kit: str, key: int, velocity: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    seconds = {"808": 0.9 if key in (35, 36) else 0.35, "chip": 0.18}[kit]
    frames = int(seconds * sample_rate)
    t = np.arange(frames) / sample_rate
    if kit == "chip":
        hold = 4  # sample-and-hold noise, the NES noise channel's grain
        noise = np.repeat(rng.choice([-1.0, 1.0], frames // hold + 1), hold)[:frames]
        if key in (35, 36):
            phase = _phase(150 * np.exp(-t / 0.03) + 45, frames, sample_rate) % 1.0
            sound = np.where(phase < 0.5, 1.0, -1.0) * np.exp(-t / 0.07)
        elif key in (38, 39, 40, 37):
            sound = 0.8 * noise * np.exp(-t / 0.05)
        else:
            sound = 0.5 * np.repeat(rng.choice([-1.0, 1.0], frames), 1)[:frames] * np.exp(-t / 0.012)
    else:
        noise = rng.standard_normal(frames)
        if key in (35, 36):
            phase = _phase(48 + 110 * np.exp(-t / 0.025), frames, sample_rate)
            sound = np.sin(2 * np.pi * phase) * np.exp(-t / 0.45)
        elif key in (38, 39, 40):
            bursts = sum(np.exp(-np.maximum(t - d, 0) / 0.012) * (t >= d) for d in (0.0, 0.011, 0.022))
            sound = 0.3 * np.diff(noise, prepend=0) * bursts * np.exp(-t / 0.09)
        elif key == 56:
            phase = _phase(540.0, frames, sample_rate) % 1.0, _phase(800.0, frames, sample_rate) % 1.0
            sound = 0.3 * (np.sign(phase[0] - 0.5) + np.sign(phase[1] - 0.5)) * np.exp(-t / 0.06)
        else:
            decay = 0.2 if key == 46 else 0.03
            sound = 0.07 * np.diff(np.diff(noise, prepend=0), prepend=0) * np.exp(-t / decay)
    return (sound * (velocity / 127) * 0.7).astype(np.float32)


def _voice(
    name: str,
    note: Note,
    seconds: float,
    sample_rate: int,
    rng: np.random.Generator,
    glide_from: int | None,
    wobble_rate: float,
) -> np.ndarray:
    if name == "808":
        return _sub808(note, seconds, sample_rate, glide_from)
    if name == "supersaw":
        return _supersaw(note, seconds, sample_rate, rng)
    if name == "pulse":
        return _pulse(note, seconds, sample_rate)
    if name == "triangle":
        return _triangle(note, seconds, sample_rate)
    if name == "pluck":
        return _pluck(note, seconds, sample_rate)
    return _wobble(note, seconds, sample_rate, wobble_rate)


def render_track(track: Track, score: Score, sample_rate: int, frames: int, check: Callable[[], None]) -> np.ndarray:
    """Stereo float32 audio of a track played by a synthesised voice or kit, DC-blocked, `frames` long."""
    mono = np.zeros(frames + sample_rate * 2, dtype=np.float32)
    rng = np.random.default_rng(len(track.notes))
    previous: Note | None = None
    wobble_rate = score.bpm / 60 * 2 / 3  # quarter-note triplets
    for index, note in enumerate(sorted(track.notes, key=lambda n: n.start)):
        start = round(score.seconds(note.start) * sample_rate)
        if start >= frames:
            continue
        seconds = score.seconds(note.duration)
        if track.is_drum:
            sound = _kit_hit(track.synth, note.pitch, note.velocity, sample_rate, rng)
        else:
            legato = previous is not None and previous.start + previous.duration >= note.start - 0.05
            glide_from = previous.pitch if legato and previous is not None else None
            sound = _voice(track.synth, note, seconds, sample_rate, rng, glide_from, wobble_rate)
            sound = sound * (note.velocity / 127) ** 1.5 * 0.5
            previous = note
        end = min(len(mono), start + len(sound))
        mono[start:end] += sound[: end - start]
        if index % 64 == 0:
            check()
    return np.repeat(dc_block(mono[:frames], sample_rate)[:, None], 2, axis=1)


def high_gain(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A guitar amp's high-gain channel and a 4x12 cabinet (pedalboard), on a clean guitar render."""
    import pedalboard

    chain = pedalboard.Pedalboard(
        [
            pedalboard.HighpassFilter(cutoff_frequency_hz=110),
            pedalboard.Gain(gain_db=12),
            pedalboard.Distortion(drive_db=26),
            pedalboard.PeakFilter(cutoff_frequency_hz=700, gain_db=-5, q=0.8),  # the metal "scoop"
            pedalboard.LowpassFilter(cutoff_frequency_hz=5200),  # the speaker cabinet rolls off the fizz
            pedalboard.HighpassFilter(cutoff_frequency_hz=80),
            pedalboard.Gain(gain_db=-24),
        ]
    )
    return dc_block(chain(np.ascontiguousarray(audio.T), sample_rate).T, sample_rate)
