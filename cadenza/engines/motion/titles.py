"""t2v: a typographic title or lyric video of the prompt over a seeded, moving background.

One line of prompt is a title that fades and drifts in; several lines (or sentences) become a lyric
video, one line at a time. The background is soft colour blobs on seeded orbits, drawn small and
scaled up, so it is smooth and cheap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cadenza.engines.base import EngineOutput, RunContext
from cadenza.engines.motion.output import Overlay, ease, encode, pick_word, publish, shape_of
from cadenza.engines.motion.text import text_mask

PALETTES = {
    "dusk": ((40, 20, 80), (230, 90, 120), (255, 180, 90)),
    "ocean": ((5, 30, 60), (20, 120, 170), (90, 220, 210)),
    "forest": ((10, 35, 20), (50, 120, 60), (200, 210, 120)),
    "neon": ((15, 5, 30), (255, 40, 170), (40, 220, 255)),
}
PALETTE_WORDS = {
    "ocean": ("ocean", "sea", "water", "rain", "blue", "night"),
    "forest": ("forest", "green", "nature", "tree", "spring"),
    "neon": ("neon", "city", "club", "cyber", "synth"),
    "dusk": ("sunset", "dusk", "warm", "love", "summer"),
}


class TitlesAdvanced(BaseModel):
    """t2v knobs."""

    model_config = ConfigDict(extra="forbid")

    palette: Literal["dusk", "ocean", "forest", "neon"] | None = Field(None, description="Default: from the prompt")
    text_size: int | None = Field(None, ge=8, le=400, description="Font size in pixels; default: a tenth of the height")


def lines_of(prompt: str) -> list[str]:
    lines = [line.strip() for line in prompt.splitlines() if line.strip() and not line.strip().startswith("[")]
    if len(lines) == 1:
        lines = [part.strip() for part in re.split(r"(?<=[.!?])\s+", lines[0]) if part.strip()]
    return lines or [prompt.strip()]


def backdrop(count: int, size: tuple[int, int], palette: tuple, rng: np.random.Generator) -> Iterator[np.ndarray]:
    width, height = size
    w, h = max(8, width // 8), max(8, height // 8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.array(palette[0], np.float32)
    speeds = rng.uniform(0.05, 0.2, (3, 2))
    phases = rng.uniform(0, 2 * np.pi, (3, 2))
    radii = rng.uniform(0.25, 0.45, 3)
    colours = [np.array(palette[1 + i % 2], np.float32) for i in range(3)]
    for index in range(count):
        seconds = index / 30.0
        field = np.broadcast_to(base, (h, w, 3)).copy()
        for blob in range(3):
            cx = w * (0.5 + 0.35 * np.sin(2 * np.pi * speeds[blob, 0] * seconds + phases[blob, 0]))
            cy = h * (0.5 + 0.35 * np.sin(2 * np.pi * speeds[blob, 1] * seconds + phases[blob, 1]))
            weight = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (radii[blob] * w) ** 2)))[..., None]
            field += (colours[blob] - field) * weight * 0.8
        yield cv2.resize(np.clip(field, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)


def run_titles(request: Any, advanced: TitlesAdvanced, ctx: RunContext, recipe: dict[str, Any]) -> EngineOutput:
    """1. lines and palette, 2. timing, 3. background + text, encoded, 4. publish."""
    shape = shape_of(request, 5.0)
    palette = advanced.palette or pick_word(request.prompt, PALETTE_WORDS, "dusk")
    lines = lines_of(request.prompt)
    size = advanced.text_size or max(12, shape.height // 10)
    per_line = shape.frames / len(lines)
    fade = max(1, min(int(0.4 * shape.fps), int(per_line / 4)))

    def drawn() -> Iterator[tuple[np.ndarray, list[Overlay]]]:
        background = backdrop(shape.frames, (shape.width, shape.height), PALETTES[palette], ctx.rng("t2v", "bg"))
        for index, frame in enumerate(background):
            line = min(len(lines) - 1, int(index / per_line))
            local = index - line * per_line
            visible = (
                float(min(1.0, local / fade, (per_line - local) / fade))
                if len(lines) > 1
                else float(min(1.0, (index + 1) / fade))
            )
            mask = text_mask(lines[line], size, int(shape.width * 0.85))
            rise = int((1.0 - float(ease(visible))) * size * 0.5)
            alpha = (mask.astype(np.uint16) * int(255 * max(0.0, visible)) // 255).astype(np.uint8)
            x = (shape.width - mask.shape[1]) // 2
            y = (shape.height - mask.shape[0]) // 2 + rise
            yield frame, [Overlay(alpha, x, y)]

    video = ctx.scratch / "video.mp4"
    poster = encode(ctx, video, shape, drawn(), audio=None, preset=request.preset, poster_at=shape.frames // 2)
    recipe = recipe | {"palette": palette, "lines": lines}
    return publish(ctx, video, poster, shape, recipe, has_audio=False)
