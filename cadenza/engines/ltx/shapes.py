"""LTX shape rules, presets and the time estimate: pure arithmetic, no torch.

LTX's video VAE compresses 32x in space and 8x in time, so a width and height must be multiples of 32
and a frame count 8k+1. A duration in seconds is rounded to the nearest valid frame count (and the
recipe says so); an explicit size or frame count that breaks the rule is refused with the nearest
valid values, unless `advanced.round_shape` asks the engine to round it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cadenza.errors import InputError

SPATIAL, TEMPORAL = 32, 8  # the VAE's compression of every released LTX-Video and LTX-2 checkpoint
DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS, DEFAULT_SECONDS = 768, 512, 24, 5.0
MAX_FRAMES = 257  # LTX-Video's longest single generation; longer clips need chaining


@dataclass(frozen=True)
class Preset:
    steps: int  # denoising steps of the first stage (distilled checkpoints want about 8)
    scale: float  # the first stage's resolution, as a fraction of the asked size
    upsample: bool  # a latent upsampler doubles the first stage and a second pass refines it
    time_factor: float  # relative cost, for the estimate


PRESETS = {
    "fast": Preset(steps=4, scale=1.0, upsample=False, time_factor=0.5),
    "balanced": Preset(steps=8, scale=1.0, upsample=False, time_factor=1.0),
    "quality": Preset(steps=8, scale=0.5, upsample=True, time_factor=1.6),
}
REFINE_STEPS = 4  # the second stage's steps on the upsampled latents


def nearest(value: int, step: int, offset: int = 0, low: int | None = None) -> int:
    """The nearest `step*k + offset` to `value`, at least `low` (default `step + offset`)."""
    k = round((value - offset) / step)
    return max(low if low is not None else step + offset, k * step + offset)


@dataclass
class Shape:
    width: int
    height: int
    frames: int
    fps: int
    rounded: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> {asked, used}

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def recipe(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "frames": self.frames, "fps": self.fps,
                "rounded": self.rounded}  # fmt: skip


def resolve_shape(request: Any, *, round_shape: bool, spatial: int = SPATIAL, temporal: int = TEMPORAL) -> Shape:
    """The size and length a run uses, by LTX's rules. Raises InputError naming the nearest valid values."""
    fps = request.fps or DEFAULT_FPS
    shape = Shape(request.width or DEFAULT_WIDTH, request.height or DEFAULT_HEIGHT, 0, fps)
    for name in ("width", "height"):
        asked = getattr(shape, name)
        if asked % spatial:
            valid = nearest(asked, spatial)
            if not round_shape:
                raise InputError(
                    f"{name} {asked} is not a multiple of {spatial}: LTX takes multiples of {spatial} "
                    f"(nearest: {valid}); or set advanced.round_shape=true to round it"
                )
            setattr(shape, name, valid)
            shape.rounded[name] = {"asked": asked, "used": valid}
    asked_frames = request.frame_count(fps, DEFAULT_SECONDS)
    frames = min(nearest(asked_frames, temporal, 1, low=temporal + 1), MAX_FRAMES)
    if frames != asked_frames:
        if request.frames is not None and not round_shape:
            raise InputError(
                f"frames {asked_frames} is not 8k+1: LTX takes {temporal}k+1 frames, {temporal + 1} to {MAX_FRAMES} "
                f"(nearest: {frames}); or set advanced.round_shape=true to round it"
            )
        shape.rounded["frames"] = {"asked": asked_frames, "used": frames}
    shape.frames = frames
    return shape


# Seconds per run of a distilled 2B model at 768x512, 121 frames, 8 steps, on a 24 GB GPU: the reference
# the estimate scales from (area x frames x steps), per mode (conditioning encodes and adds tokens).
MODE_SECONDS = {"t2v": 30.0, "i2v": 33.0, "keyframe": 38.0, "style": 45.0, "a2v": 40.0, "lipsync": 40.0}
COLD_LOAD_SECONDS = 60.0  # reading ~10-40 GB of weights from disk
DECODE_SECONDS_PER_FRAME = 0.08
MIN_BUDGET, MAX_BUDGET = 20.0, 3 * 3600.0


def estimate(task: str, preset: str, shape: Shape, *, steps: int | None, loaded: bool, device: str) -> float:
    """A base per mode times the preset and the work (area x frames), plus loading and decoding, clamped."""
    work = (shape.width * shape.height * shape.frames) / (DEFAULT_WIDTH * DEFAULT_HEIGHT * 121)
    chosen = PRESETS[preset]
    step_factor = (steps / chosen.steps) if steps else 1.0
    seconds = MODE_SECONDS.get(task, 40.0) * chosen.time_factor * step_factor * work
    if not device.startswith("cuda"):
        seconds *= 40.0  # a CPU or Apple GPU is one to two orders of magnitude slower
    seconds += 0.0 if loaded else COLD_LOAD_SECONDS
    seconds += DECODE_SECONDS_PER_FRAME * shape.frames
    return min(max(seconds, MIN_BUDGET), MAX_BUDGET)
