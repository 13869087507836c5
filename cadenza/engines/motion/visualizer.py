"""a2v: an audio-reactive visualizer. Bars, a ring or a waveform follow the spectrum and level; the
whole picture kicks on each beat of the song's own grid; lyric captions from its `.lrc` sit below.

Drawn at half the output size on preallocated buffers (OpenCV), captions laid crisp on the full-size
luma by the encoder (see output.py): a 3-minute 720p song renders several times faster than real time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cadenza.engines.base import EngineOutput, RunContext
from cadenza.engines.motion.audio import BANDS, Features, analyse
from cadenza.engines.motion.output import Frame, Overlay, encode, pick_word, publish, shape_of
from cadenza.engines.motion.text import caption_index, halo, read_lrc, text_mask
from cadenza.media.io import audio_info
from cadenza.media.video import read_image

LOOKS = {
    "ring": ("ring", "circle", "radial", "orb", "round"),
    "wave": ("wave", "oscillo", "scope", "line", "minimal"),
    "bars": ("bars", "spectrum", "equalizer", "eq"),
}
PALETTES = {
    "neon": ((255, 40, 170), (40, 220, 255)),
    "sunset": ((255, 120, 40), (255, 40, 110)),
    "ocean": ((30, 140, 255), (60, 255, 200)),
    "mono": ((235, 235, 235), (150, 150, 150)),
}
ZOOM_CACHE_BYTES = 64 * 1024 * 1024
PALETTE_WORDS = {
    "sunset": ("sunset", "warm", "fire", "orange", "red"),
    "ocean": ("ocean", "sea", "blue", "cool", "rain", "night"),
    "mono": ("mono", "black and white", "grey", "gray", "minimal"),
    "neon": ("neon", "synth", "club", "pink"),
}


class VisualizerAdvanced(BaseModel):
    """a2v knobs (the UI draws them from this schema)."""

    model_config = ConfigDict(extra="forbid")

    look: Literal["bars", "ring", "wave"] | None = Field(None, description="Default: chosen from the prompt (bars)")
    palette: Literal["neon", "sunset", "ocean", "mono"] | None = Field(None, description="Default: from the prompt")
    captions: bool = Field(True, description="Show the song's lyrics, timed from its .lrc")
    beat_strength: float = Field(1.0, ge=0.0, le=2.0, description="How hard the picture kicks on each beat")


def choose(prompt: str, advanced: VisualizerAdvanced) -> tuple[str, str]:
    look = advanced.look or pick_word(prompt, LOOKS, "bars")
    palette = advanced.palette or pick_word(prompt, PALETTE_WORDS, "neon")
    return look, palette


def run_visualizer(request: Any, advanced: VisualizerAdvanced, ctx: RunContext, recipe: dict[str, Any]) -> EngineOutput:
    """1. read the song, 2. measure it per frame, 3. draw and encode with its mix, 4. publish."""
    song = ctx.source("audio")
    seconds, _ = audio_info(song.path)
    shape = shape_of(request, seconds)
    look, palette = choose(request.prompt, advanced)
    ctx.progress(0.02, "analyse")
    features = analyse(song, shape.fps, shape.frames)
    background = None
    if "image" in ctx.inputs:
        background = read_image(ctx.source("image").path, (shape.width // 2, shape.height // 2))
    lyrics = read_lrc(song.files.get("lrc")) if advanced.captions else []
    ctx.check_cancelled()
    video = ctx.scratch / "video.mp4"
    drawn = frames(
        features,
        (shape.width, shape.height),
        look,
        palette,
        background,
        lyrics,
        shape.fps,
        advanced.beat_strength,
        ctx.rng("a2v", "backdrop"),
    )
    poster = encode(ctx, video, shape, drawn, audio=song.path, preset=request.preset)
    recipe = recipe | {
        "look": look,
        "palette": palette,
        "beats": {"bpm": round(features.bpm, 3), "source": features.beat_source, "count": len(features.beats)},
        "captions": len(lyrics),
        "source": {"name": song.name, "seconds": round(seconds, 3)},
    }
    return publish(ctx, video, poster, shape, recipe, has_audio=True)


def frames(
    features: Features,
    size: tuple[int, int],
    look: str,
    palette: str,
    background: np.ndarray | None,
    lyrics: list[tuple[float, str]],
    fps: int,
    beat_strength: float,
    rng: np.random.Generator,
) -> Iterator[Frame]:
    """The visualizer's frames: (RGB at half size, caption overlays at full size)."""
    width, height = size
    w, h = width // 2, height // 2
    base = _backdrop(background, (w, h), PALETTES[palette], rng)
    colours = _ramp(PALETTES[palette], BANDS)
    count = len(features.level)
    captions = caption_index(lyrics, fps, count) if lyrics else np.full(count, -1)
    masks: dict[int, list[Overlay]] = {}
    # The pulse takes one value per frame since the last beat, so the zoomed backdrops repeat: each is
    # warped once and kept (a few dozen at most; past the memory cap the rest are warped every frame).
    zoomed: dict[float, np.ndarray] = {}
    keep = max(8, ZOOM_CACHE_BYTES // base.nbytes)
    canvas = np.empty((h, w, 3), np.uint8)
    centre = (w / 2, h / 2)
    for index in range(count):
        pulse = float(features.pulse[index]) * beat_strength
        level = float(features.level[index])
        # 1. The backdrop, zoomed and brightened on the beat.
        zoom = 1.0 + 0.06 * pulse + (0.03 * pulse if features.downbeat[index] else 0.0)
        backdrop = zoomed.get(zoom)
        if backdrop is None:
            matrix = cv2.getRotationMatrix2D(centre, 0.0, zoom)
            backdrop = cv2.warpAffine(base, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            if len(zoomed) < keep:
                zoomed[zoom] = backdrop
        gain = 0.55 + 0.25 * level + 0.45 * pulse
        cv2.convertScaleAbs(backdrop, dst=canvas, alpha=gain, beta=0)
        # 2. The look.
        spectrum = features.spectrum[index]
        if look == "ring":
            _ring(canvas, spectrum, colours, pulse, level)
        elif look == "wave":
            _wave(canvas, features.wave[index], colours, pulse, level)
        else:
            _bars(canvas, spectrum, colours, pulse)
        # 3. The caption of this moment.
        line = int(captions[index])
        overlays = masks.get(line) if line >= 0 else []
        if overlays is None:
            overlays = masks[line] = _caption(lyrics[line][1], width, height)
        yield canvas, overlays


def _backdrop(
    image: np.ndarray | None, size: tuple[int, int], palette: tuple[tuple[int, ...], ...], rng: np.random.Generator
) -> np.ndarray:
    w, h = size
    if image is not None:
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    glow = np.exp(-(((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2) * 3.0)[..., None]
    low, high = np.array(palette[0], np.float32) * 0.25, np.array(palette[1], np.float32) * 0.35
    mix = (low * (1 - glow) + high * glow) * (0.35 + 0.65 * yy[..., None] / h)
    return np.clip(mix, 0, 255).astype(np.uint8)


def _ramp(palette: tuple[tuple[int, ...], ...], count: int) -> list[tuple[int, int, int]]:
    low, high = np.array(palette[0], float), np.array(palette[1], float)
    return [tuple(int(c) for c in low + (high - low) * i / max(1, count - 1)) for i in range(count)]


def _bars(canvas: np.ndarray, spectrum: np.ndarray, colours: list, pulse: float) -> None:
    h, w = canvas.shape[:2]
    floor = int(h * 0.78)
    slot = w / (2 * BANDS + 4)
    tallest = h * (0.5 + 0.1 * pulse)
    for band in range(BANDS):
        top = int(floor - 2 - spectrum[band] * tallest)
        for x in (w / 2 + (band + 0.5) * slot, w / 2 - (band + 1.5) * slot):
            x0 = int(x)
            cv2.rectangle(canvas, (x0, top), (x0 + max(1, int(slot * 0.7)), floor), colours[band], -1)
    cv2.line(canvas, (0, floor + 1), (w, floor + 1), (255, 255, 255), 1)


def _ring(canvas: np.ndarray, spectrum: np.ndarray, colours: list, pulse: float, level: float) -> None:
    h, w = canvas.shape[:2]
    cx, cy = w // 2, int(h * 0.45)
    radius = h * (0.16 + 0.05 * pulse + 0.03 * level)
    angles = np.linspace(0, 2 * np.pi, 2 * BANDS, endpoint=False) - np.pi / 2
    values = np.concatenate([spectrum, spectrum[::-1]])
    inner = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
    outer_r = radius + values * h * 0.22
    outer = np.stack([cx + outer_r * np.cos(angles), cy + outer_r * np.sin(angles)], axis=1)
    for index in range(len(angles)):
        colour = colours[index if index < BANDS else 2 * BANDS - 1 - index]
        cv2.line(canvas, tuple(inner[index].astype(int)), tuple(outer[index].astype(int)), colour, 3, cv2.LINE_AA)
    cv2.circle(canvas, (cx, cy), int(radius), (255, 255, 255), 2, cv2.LINE_AA)


def _wave(canvas: np.ndarray, wave: np.ndarray, colours: list, pulse: float, level: float) -> None:
    h, w = canvas.shape[:2]
    xs = np.linspace(w * 0.05, w * 0.95, len(wave))
    ys = h * 0.45 - wave * h * (0.18 + 0.1 * pulse)
    points = np.stack([xs, ys], axis=1).astype(np.int32).reshape(-1, 1, 2)
    thickness = 2 + int(3 * level)
    cv2.polylines(canvas, [points], False, colours[-1], thickness + 3, cv2.LINE_AA)
    cv2.polylines(canvas, [points], False, (255, 255, 255), max(1, thickness - 1), cv2.LINE_AA)


def _caption(words: str, width: int, height: int) -> list[Overlay]:
    size = max(14, height // 18)
    mask = text_mask(words, size, int(width * 0.85))
    x, y = (width - mask.shape[1]) // 2, int(height * 0.84) - mask.shape[0] // 2
    shadow = halo(mask, max(3, size // 5))
    return [Overlay(shadow, x, y, luma=16), Overlay(mask, x, y, luma=235)]
