"""style: looks applied to every frame of a source video, chosen from the prompt; timing and audio kept.

Looks: cartoon (edge-preserving flattening with ink lines), pencil (a dodge-blend sketch), colour grades
(warm, cool, noir, vintage, teal-orange) and film grain, which combine ("vintage pencil with grain").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cadenza.engines.base import EngineOutput, RunContext
from cadenza.engines.motion.output import encode, publish, shape_of
from cadenza.errors import InputError
from cadenza.media.video import probe, read_frames

Look = Literal["cartoon", "pencil", "warm", "cool", "noir", "vintage", "teal-orange", "grain"]
WORDS: dict[str, tuple[str, ...]] = {
    "cartoon": ("cartoon", "comic", "anime", "toon", "cel", "painted", "painting"),
    "pencil": ("pencil", "sketch", "drawing", "charcoal", "graphite"),
    "noir": ("noir", "black and white", "b&w", "monochrome", "grayscale", "greyscale"),
    "vintage": ("vintage", "sepia", "old", "retro", "70s", "faded"),
    "warm": ("warm", "golden", "sunset", "summer"),
    "cool": ("cool", "cold", "blue", "winter", "night"),
    "teal-orange": ("teal", "cinematic", "blockbuster", "movie"),
    "grain": ("grain", "film", "16mm", "35mm", "analog", "analogue"),
}
ACCEPTED = ", ".join(WORDS)


class LooksAdvanced(BaseModel):
    """style knobs."""

    model_config = ConfigDict(extra="forbid")

    looks: list[Look] | None = Field(None, description="Default: every look the prompt names, in this order")
    strength: float = Field(1.0, ge=0.0, le=1.0, description="Blend of the styled frame over the source")
    grain: float = Field(12.0, ge=0.0, le=60.0, description="Film grain amount (grey levels)")


def choose(prompt: str, advanced: LooksAdvanced) -> list[str]:
    if advanced.looks:
        return list(dict.fromkeys(advanced.looks))
    lowered = prompt.lower()
    chosen = [name for name, words in WORDS.items() if any(word in lowered for word in words)]
    if not chosen:
        raise InputError(f"the prompt {prompt!r} names no look the motion engine knows; accepted: {ACCEPTED}")
    return chosen


def cartoon(frame: np.ndarray) -> np.ndarray:
    small = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    for _ in range(2):
        small = cv2.bilateralFilter(small, 7, 40, 7)
    flat = cv2.resize(small, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
    flat = (flat // 24) * 24 + 12
    grey = cv2.medianBlur(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 5)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
    return cv2.bitwise_and(flat, flat, mask=edges)


def pencil(frame: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(255 - grey, (0, 0), 6)
    sketch = cv2.divide(grey, 255 - blurred, scale=256)
    return cv2.cvtColor(sketch, cv2.COLOR_GRAY2RGB)


GRADES = {  # 3x3 colour matrices on RGB
    "warm": np.array([[1.10, 0.05, 0.0], [0.0, 1.02, 0.0], [0.0, 0.0, 0.85]]),
    "cool": np.array([[0.88, 0.0, 0.0], [0.0, 1.0, 0.04], [0.04, 0.06, 1.12]]),
    "noir": np.array([[0.33, 0.5, 0.17]] * 3),
    "vintage": np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]]),
    "teal-orange": np.array([[1.12, 0.0, -0.08], [-0.02, 1.0, 0.02], [-0.08, 0.08, 1.05]]),
}


def grade(frame: np.ndarray, name: str) -> np.ndarray:
    out = cv2.transform(frame, GRADES[name])
    if name == "noir":
        out = cv2.convertScaleAbs(out, alpha=1.35, beta=-45)
    elif name == "vintage":
        out = cv2.convertScaleAbs(out, alpha=0.85, beta=20)
    return out


def frames(
    source: Iterator[np.ndarray], looks: list[str], advanced: LooksAdvanced, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    for frame in source:
        styled = frame
        for look in looks:
            if look == "cartoon":
                styled = cartoon(styled)
            elif look == "pencil":
                styled = pencil(styled)
            elif look in GRADES:
                styled = grade(styled, look)
        if "grain" in looks and advanced.grain > 0:
            noise = rng.normal(0.0, advanced.grain, styled.shape[:2]).astype(np.float32)
            styled = np.clip(styled + noise[..., None], 0, 255).astype(np.uint8)
        if advanced.strength < 1.0:
            styled = cv2.addWeighted(styled, advanced.strength, frame, 1.0 - advanced.strength, 0.0)
        yield styled


def run_looks(request: Any, advanced: LooksAdvanced, ctx: RunContext, recipe: dict[str, Any]) -> EngineOutput:
    """1. the source's shape, 2. the looks, 3. every frame restyled and encoded with its audio, 4. publish."""
    clip = ctx.source("video")
    info = probe(clip.path, count_frames=True)
    looks = choose(request.prompt, advanced)
    width = request.width or min(info.width, 1920)
    height = request.height or round(width * info.height / info.width)
    fps = round(info.fps) or 30
    shape = shape_of(request, info.frames / fps, (width, height), fps)
    if request.frames is None and request.duration is None:
        shape = type(shape)(shape.width, shape.height, shape.fps, info.frames)
    if shape.frames > info.frames:
        raise InputError(f"the source has {info.frames} frames; a style video can be at most that long")
    source = read_frames(clip.path, size=(shape.width, shape.height), limit=shape.frames)
    video = ctx.scratch / "video.mp4"
    poster = encode(
        ctx,
        video,
        shape,
        frames(source, looks, advanced, ctx.rng("style", "grain")),
        audio=clip.path if info.has_audio else None,
        preset=request.preset,
    )
    recipe = recipe | {"looks": looks, "source": {"name": clip.name, "frames": info.frames, "fps": info.fps}}
    return publish(ctx, video, poster, shape, recipe, has_audio=info.has_audio)
