"""Extending and repainting audio Cadenza did not compose: measure its tempo, beat phase and key, compose
matching material with the procedural engine, and join it at bar lines with crossfades, at the
source's loudness."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.engines.base import RunContext
from cadenza.engines.procedural import render
from cadenza.engines.procedural.compose import arrange, compose
from cadenza.engines.procedural.genres import GENRES
from cadenza.engines.procedural.score import Chord, Note, Section
from cadenza.engines.procedural.soundfont import pick_renderer
from cadenza.engines.procedural.style import resolve_style
from cadenza.engines.procedural.theory import make_chord
from cadenza.errors import EngineUnavailable, InputError
from cadenza.media.analysis import estimate_key, estimate_tempo
from cadenza.media.io import read_audio
from cadenza.media.loudness import integrated_loudness, limit
from cadenza.tasks import MAX_BPM, MIN_BPM, SHARP_NAMES, GenerateRequest, Key

RATE = render.SAMPLE_RATE
BEATS_PER_BAR = 4


def analyse(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """The source as 44.1 kHz stereo, and its tempo, beat phase, key and bar length."""
    audio, rate = read_audio(path)
    if rate != RATE:
        from scipy.signal import resample_poly  # only covers of foreign audio need it: ~0.5 s of every start

        audio = resample_poly(audio, RATE, rate, axis=0).astype(np.float32)
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    audio = audio[:, :2]
    if len(audio) < 4 * RATE:
        raise InputError("the source is shorter than 4 s; there is too little to measure its tempo and key")
    tempo = estimate_tempo(audio, RATE)
    key = estimate_key(audio, RATE)
    bpm = float(min(MAX_BPM, max(MIN_BPM, tempo.bpm)))
    bar = BEATS_PER_BAR * 60.0 / bpm
    return audio, {
        "bpm": round(bpm, 2),
        "beat_phase_s": round(tempo.beat_phase_s, 4),
        "bar_s": bar,
        "key": f"{SHARP_NAMES[key.tonic]} {key.mode}",
        "seconds": len(audio) / RATE,
    }


def bar_line(analysis: dict[str, Any], seconds: float, round_down: bool = False) -> float:
    bars = (seconds - analysis["beat_phase_s"]) / analysis["bar_s"]
    count = math.floor(bars) if round_down else round(bars)
    return analysis["beat_phase_s"] + max(0, count) * analysis["bar_s"]


def material(prompt: str, analysis: dict[str, Any], seconds: float, seed: int, ctx: RunContext) -> np.ndarray:
    """Procedural music in the source's tempo and key, `seconds` long, as a pre-master stereo mix."""
    request = GenerateRequest(
        prompt=prompt,
        bpm=analysis["bpm"],
        key=analysis["key"],
        time_signature="4/4",
        duration=max(5.0, seconds),
        seed=seed,
    )
    style = resolve_style(request)
    score = compose(style, request.duration, ctx.rng)
    mix = render.render_song(score, pick_renderer(), ctx.rng, lambda *_: None, lambda _: None, ctx.check_cancelled)
    return mix[: round(seconds * RATE)]


def match_loudness(new: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`new` at the integrated loudness of `reference`, peaks kept under -1 dBFS."""
    gain_db = integrated_loudness(reference, RATE) - integrated_loudness(new, RATE)
    scaled = (new * 10 ** (max(-40.0, min(40.0, gain_db)) / 20)).astype(np.float32)
    return limit(scaled, RATE, -1.0)


def crossfade(first: np.ndarray, second: np.ndarray, at: int, length: int) -> np.ndarray:
    """`first` until frame `at`, then `second` (aligned so its frame 0 is `at`), blended over `length`."""
    total = at + len(second)
    out = np.zeros((total, 2), np.float32)
    out[:at] = first[:at]
    out[at:] = second
    ramp = min(length, len(second), len(first) - at)
    if ramp > 0:
        fade = np.linspace(0, 1, ramp, dtype=np.float32)[:, None]
        out[at : at + ramp] = first[at : at + ramp] * (1 - fade) + second[:ramp] * fade
    return out


@dataclass
class Transcription:
    bpm: float
    key: str
    melody: list[Note]  # beats from the first bar line
    chords: list[Chord]
    form: list[Section]
    length_seconds: float
    analysis: dict[str, Any]


TRIADS = {
    "major": ((0, "I"), (2, "ii"), (4, "iii"), (5, "IV"), (7, "V"), (9, "vi")),
    "minor": ((0, "i"), (3, "III"), (5, "iv"), (7, "V"), (8, "VI"), (10, "VII")),
}
MELODY_RANGE = (52, 96)


def transcribe(path: Path) -> Transcription:
    """Notes of other audio with basic-pitch (its ONNX model, no TensorFlow), then its melody (the highest
    line), one chord a bar (the diatonic triad its notes fit best) and a form for that many bars."""
    try:
        from basic_pitch import ICASSP_2022_MODEL_PATH
        from basic_pitch.inference import predict
    except ImportError as exc:
        raise EngineUnavailable(
            f"covering audio that Cadenza did not compose needs basic-pitch ({exc.name} is missing): "
            "pip install onnxruntime librosa 'resampy<0.4.3' mir-eval && pip install --no-deps basic-pitch"
        ) from None
    _, analysis = analyse(path)
    _, _, events = predict(str(path), ICASSP_2022_MODEL_PATH)
    seconds_per_beat = 60.0 / analysis["bpm"]
    phase = analysis["beat_phase_s"]
    notes = [
        (float(start - phase) / seconds_per_beat, float(end - start) / seconds_per_beat, int(pitch), float(amp))
        for start, end, pitch, amp, *_ in events
        if start >= phase - 0.05
    ]
    melody = _skyline(notes)
    key = Key.parse(analysis["key"])
    bars = max(2, int((analysis["seconds"] - phase) / analysis["bar_s"]))
    chords = [_bar_chord(notes, bar * BEATS_PER_BAR, key) for bar in range(bars)]
    form = arrange(GENRES["pop"].arrangement, bars, 0.6)
    length = phase + bars * analysis["bar_s"] + 2.0
    return Transcription(analysis["bpm"], analysis["key"], melody, chords, form, length, analysis)


def _skyline(notes: list[tuple[float, float, int, float]]) -> list[Note]:
    """The highest confident note at each 16th-note onset: what a listener hums back."""
    onsets: dict[float, tuple[float, int, float]] = {}
    for start, length, pitch, amplitude in notes:
        if not MELODY_RANGE[0] <= pitch <= MELODY_RANGE[1] or amplitude < 0.3:
            continue
        slot = round(start * 4) / 4
        if slot not in onsets or pitch > onsets[slot][1]:
            onsets[slot] = (length, pitch, amplitude)
    slots = sorted(onsets)
    melody = []
    for index, slot in enumerate(slots):
        length, pitch, amplitude = onsets[slot]
        following = slots[index + 1] if index + 1 < len(slots) else slot + length
        melody.append(Note(slot, max(0.25, min(length, following - slot)), pitch, int(60 + 60 * min(1.0, amplitude))))
    return melody


def _bar_chord(notes: list[tuple[float, float, int, float]], start: float, key: Key) -> Chord:
    weights = np.zeros(12)
    for onset, length, pitch, amplitude in notes:
        overlap = min(onset + length, start + BEATS_PER_BAR) - max(onset, start)
        if overlap > 0:
            weights[pitch % 12] += overlap * amplitude
    best = max(
        TRIADS[key.mode],
        key=lambda item: sum(
            weights[(key.tonic + item[0] + step) % 12] for step in ((0, 4, 7) if item[1].isupper() else (0, 3, 7))
        ),
    )
    return make_chord(best[1], key, start, BEATS_PER_BAR, False)
