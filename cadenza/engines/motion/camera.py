"""i2v: a camera moving over a still (push-in, pull-out, pan, drift), eased; with audio it kicks on the beat."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cadenza.engines.base import EngineOutput, RunContext
from cadenza.engines.motion.audio import beat_grid, beat_pulse, load_mono
from cadenza.engines.motion.output import ease, encode, pick_word, publish, shape_of
from cadenza.media.io import audio_info
from cadenza.media.video import read_image

MOVES = {
    "pull-out": ("pull out", "pull-out", "zoom out", "reveal", "dolly out"),
    "pan-left": ("pan left", "pan-left"),
    "pan-right": ("pan right", "pan-right", "pan"),
    "drift": ("drift", "float", "dream", "handheld", "sway"),
    "push-in": ("push in", "push-in", "zoom in", "dolly in", "closer"),
}


class CameraAdvanced(BaseModel):
    """i2v knobs."""

    model_config = ConfigDict(extra="forbid")

    move: Literal["push-in", "pull-out", "pan-left", "pan-right", "drift"] | None = Field(
        None, description="Default: from the prompt (push-in)"
    )
    zoom: float = Field(1.25, ge=1.0, le=2.0, description="How far the camera travels in (or out)")
    beat_kick: float = Field(0.03, ge=0.0, le=0.2, description="Extra zoom on each beat when there is audio")


def path(move: str, count: int, zoom: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, x offset, y offset) per frame; offsets in fractions of the frame, eased."""
    t = ease(np.linspace(0.0, 1.0, count)) if count > 1 else np.zeros(1)
    x = np.zeros(count)
    y = np.zeros(count)
    if move == "push-in":
        scale = 1.0 + (zoom - 1.0) * t
    elif move == "pull-out":
        scale = zoom - (zoom - 1.0) * t
    elif move in ("pan-left", "pan-right"):
        scale = np.full(count, max(zoom, 1.1))
        room = (1 - 1 / scale[0]) / 2
        x = (room - 2 * room * t) * (1 if move == "pan-left" else -1)
    else:
        scale = np.full(count, max(1.08, zoom * 0.9))
        room = (1 - 1 / scale[0]) / 2
        phase = rng.uniform(0, 2 * np.pi, 2)
        lin = np.linspace(0.0, 1.0, count)
        x = room * 0.9 * np.sin(2 * np.pi * 0.5 * lin + phase[0])
        y = room * 0.9 * np.sin(2 * np.pi * 0.37 * lin + phase[1])
    return scale, x, y


def frames(image: np.ndarray, size: tuple[int, int], scale: np.ndarray, x: np.ndarray, y: np.ndarray) -> Iterator:
    width, height = size
    src_h, src_w = image.shape[:2]
    out = np.empty((height, width, 3), np.uint8)
    for index in range(len(scale)):
        # Map the output frame onto the source: the centre moves by (x, y) of the frame, zoomed by scale.
        factor = scale[index] * width / src_w
        cx = src_w / 2 + x[index] * src_w
        cy = src_h / 2 + y[index] * src_h
        matrix = np.array(
            [[factor, 0, width / 2 - factor * cx], [0, factor, height / 2 - factor * cy]], dtype=np.float64
        )
        cv2.warpAffine(image, matrix, (width, height), dst=out, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        yield out


def run_camera(request: Any, advanced: CameraAdvanced, ctx: RunContext, recipe: dict[str, Any]) -> EngineOutput:
    """1. the still, 2. the camera path (and the beat), 3. draw and encode, 4. publish."""
    still = ctx.source("image")
    song = ctx.inputs.get("audio")
    seconds = audio_info(song.path)[0] if song else 5.0
    shape = shape_of(request, seconds)
    move = advanced.move or pick_word(request.prompt, MOVES, "push-in")
    # The source at up to twice the output size keeps detail when the camera zooms in.
    image = read_image(still.path, (shape.width * 3 // 2, shape.height * 3 // 2))
    scale, x, y = path(move, shape.frames, advanced.zoom, ctx.rng("i2v", "drift"))
    beats = None
    if song is not None:
        mono, sample_rate = load_mono(song.path)
        bpm, times, bar_beats, origin = beat_grid(song.recipe, mono, sample_rate)
        pulse, _ = beat_pulse(times, bar_beats, bpm, shape.fps, shape.frames)
        scale = scale * (1.0 + advanced.beat_kick * pulse)
        beats = {"bpm": round(bpm, 3), "source": origin}
    ctx.check_cancelled()
    video = ctx.scratch / "video.mp4"
    poster = encode(
        ctx,
        video,
        shape,
        frames(image, (shape.width, shape.height), scale, x, y),
        audio=song.path if song else None,
        preset=request.preset,
        poster_at=0,
    )
    recipe = recipe | {"move": move, "beats": beats, "source": {"name": still.name}}
    return publish(ctx, video, poster, shape, recipe, has_audio=song is not None)
