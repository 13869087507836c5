"""keyframe: the motion from a first frame to a last, by dense optical flow (OpenCV DIS), not a crossfade.

Flow is measured both ways. For an in-between at time t, each image's pixels are pushed t (or 1 - t) of
the way along their flow by forward splatting the flow field (so a moving object lands between its two
positions), small cracks are filled from their neighbours, pixels that nothing lands on (what the object
uncovers) are taken from the other image only, and the two warps are blended by t. t = 0 and t = 1 are
the inputs themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cadenza.engines.base import EngineOutput, RunContext
from cadenza.engines.motion.output import ease, encode, publish, shape_of
from cadenza.media.video import read_image


class MorphAdvanced(BaseModel):
    """keyframe knobs."""

    model_config = ConfigDict(extra="forbid")

    timing: Literal["linear", "ease"] = Field("ease", description="How the motion is spread over the frames")
    flow_preset: Literal["fast", "medium"] = Field("medium", description="DIS optical flow preset")


FLOW_WIDTH = 640  # flow is measured and splatted at most this wide (in pixels of that size), then scaled


def flows(first: np.ndarray, last: np.ndarray, preset: str) -> tuple[np.ndarray, np.ndarray]:
    """(first -> last, last -> first) dense flow, at most FLOW_WIDTH wide, in pixels of that size."""
    if first.shape[1] > FLOW_WIDTH:
        size = (FLOW_WIDTH, round(first.shape[0] * FLOW_WIDTH / first.shape[1]))
        first = cv2.resize(first, size, interpolation=cv2.INTER_AREA)
        last = cv2.resize(last, size, interpolation=cv2.INTER_AREA)
    kind = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM if preset == "medium" else cv2.DISOPTICAL_FLOW_PRESET_FAST
    dis = cv2.DISOpticalFlow_create(kind)
    grey0, grey1 = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), cv2.cvtColor(last, cv2.COLOR_RGB2GRAY)
    return dis.calc(grey0, grey1, None), dis.calc(grey1, grey0, None)


def _splat(flow: np.ndarray, ranked: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """The flow from the in-between frame back to the source image, and where it is known. `ranked`
    orders pixels by how far they move: those that move further are written last, so a moving object
    covers the still background."""
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    tx = np.rint(xs + t * flow[..., 0]).astype(np.int64).ravel()
    ty = np.rint(ys + t * flow[..., 1]).astype(np.int64).ravel()
    inside = (tx >= 0) & (tx < width) & (ty >= 0) & (ty < height)
    order = ranked[inside[ranked]]
    back = np.zeros((height * width, 2), np.float32)
    hit = np.zeros(height * width, np.float32)
    back[ty[order] * width + tx[order]] = -t * flow.reshape(-1, 2)[order]
    hit[ty[order] * width + tx[order]] = 1.0
    back, hit = back.reshape(height, width, 2), hit.reshape(height, width)
    # Fill the cracks splatting leaves inside moving regions from their neighbours.
    total = cv2.boxFilter(back * hit[..., None], -1, (5, 5), normalize=False)
    count = cv2.boxFilter(hit, -1, (5, 5), normalize=False)
    filled = np.where(count[..., None] > 0, total / np.maximum(count, 1e-6)[..., None], 0.0)
    known = count > 0
    back = np.where(hit[..., None] > 0, back, filled).astype(np.float32)
    return back, known


def _ranked(flow: np.ndarray) -> np.ndarray:
    return np.argsort(np.hypot(flow[..., 0], flow[..., 1]).ravel(), kind="stable")


def between(
    first: np.ndarray,
    last: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    t: float,
    ranks: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    if t <= 0.0:
        return first
    if t >= 1.0:
        return last
    height, width = first.shape[:2]
    grid = _grid(width, height)
    back0, known0 = _splat(forward, _ranked(forward) if ranks is None else ranks[0], t)
    back1, known1 = _splat(backward, _ranked(backward) if ranks is None else ranks[1], 1.0 - t)
    if forward.shape[:2] != (height, width):  # flow measured at a lower resolution: scale it up
        scale = width / forward.shape[1]
        back0, back1 = (cv2.resize(b, (width, height), interpolation=cv2.INTER_LINEAR) * scale for b in (back0, back1))
        known0, known1 = (
            cv2.resize(k.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
            for k in (known0, known1)
        )
    warp0 = cv2.remap(first, grid + back0, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warp1 = cv2.remap(last, grid + back1, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    w0 = np.float32(1.0 - t) * known0.astype(np.float32)
    w1 = np.float32(t) * known1.astype(np.float32)
    total = w0 + w1
    w0 = np.where(total > 0, w0 / np.maximum(total, np.float32(1e-6)), np.float32(1.0 - t)).astype(np.float32)
    w0 = cv2.merge([w0, w0, w0])
    blend = warp1.astype(np.float32)
    blend += (warp0.astype(np.float32) - blend) * w0
    return np.clip(blend + 0.5, 0, 255).astype(np.uint8)


@lru_cache(maxsize=2)
def _grid(width: int, height: int) -> np.ndarray:
    return np.dstack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)))


def frames(first: np.ndarray, last: np.ndarray, times: np.ndarray, preset: str) -> Iterator[np.ndarray]:
    forward, backward = flows(first, last, preset)
    ranks = (_ranked(forward), _ranked(backward))
    for t in times:
        yield between(first, last, forward, backward, float(t), ranks)


def run_morph(request: Any, advanced: MorphAdvanced, ctx: RunContext, recipe: dict[str, Any]) -> EngineOutput:
    """1. both frames at the output size, 2. flow both ways, 3. in-betweens, encoded, 4. publish."""
    shape = shape_of(request, 3.0)
    size = (shape.width, shape.height)
    first = read_image(ctx.source("first_frame").path, size)
    last = read_image(ctx.source("last_frame").path, size)
    linear = np.linspace(0.0, 1.0, shape.frames) if shape.frames > 1 else np.zeros(1)
    times = linear if advanced.timing == "linear" else np.asarray(ease(linear))
    ctx.progress(0.03, "flow")
    video = ctx.scratch / "video.mp4"
    poster = encode(
        ctx,
        video,
        shape,
        frames(first, last, times, advanced.flow_preset),
        audio=None,
        preset=request.preset,
        poster_at=shape.frames // 2,
    )
    return publish(ctx, video, poster, shape, recipe | {"method": "dis-flow-splat"}, has_audio=False)
