"""What every motion mode shares: the output shape, the frame pipeline into the MP4, poster and recipe.

Frames are drawn on the caller's thread and encoded on another (x264 releases the GIL, so on two cores
they overlap). Each frame is turned into limited-range BT.601 I420 here, with OpenCV, instead of
by FFmpeg's scaler: a mode may draw at half the output size, then only the luma plane is upscaled (the
chroma planes are already the right size) and crisp text is laid on the full-size luma.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.errors import InputError
from cadenza.media.io import atomic_path
from cadenza.media.video import VideoWriter, write_image

DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS = 1280, 720, 30
# x264 settings per preset: (speed preset, overrides). Drawn graphics need no motion search to look
# clean at CRF 20, so `balanced` is ultrafast with CABAC and the deblocking filter back on: a quarter
# fewer bytes than ultrafast for about a fifth more encoding time, and less than half of superfast's
# time (whose subpixel search, partitions and B-frames only pay off on photographic motion).
X264 = {
    "fast": ("ultrafast", ""),
    "balanced": ("ultrafast", "cabac=1:deblock=1,0,0"),
    "quality": ("veryfast", ""),
}
BATCH = 15  # frames between progress reports and cancel checks

# RGB -> limited-range BT.601 (Y, Cb, Cr) in one affine pass (cv2.transform rounds and saturates).
_Y, _C = 219 / 255, 224 / 255
_RGB_TO_YCBCR = np.array(
    [
        [0.299 * _Y, 0.587 * _Y, 0.114 * _Y, 16.0],
        [-0.168736 * _C, -0.331264 * _C, 0.5 * _C, 128.0],
        [0.5 * _C, -0.418688 * _C, -0.081312 * _C, 128.0],
    ]
)


@dataclass(frozen=True)
class Shape:
    width: int
    height: int
    fps: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "fps": self.fps, "frames": self.frames}


def shape_of(
    request: Any, default_seconds: float, size: tuple[int, int] | None = None, fps: int | None = None
) -> Shape:
    """The request's size, rate and length, the engine's defaults (or the source's) filling the gaps."""
    width = request.width or (size[0] if size else DEFAULT_WIDTH)
    height = request.height or (size[1] if size else DEFAULT_HEIGHT)
    rate = request.fps or fps or DEFAULT_FPS
    return Shape(width - width % 2, height - height % 2, rate, request.frame_count(rate, default_seconds))


@dataclass
class Overlay:
    """White-ish text or shapes laid on the full-size frame: `alpha` (h, w) uint8 placed at (x, y)."""

    alpha: np.ndarray
    x: int
    y: int
    luma: int = 235


class I420:
    """RGB frames (the output size or exactly half of it) to limited-range BT.601 I420 buffers."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height

    def convert(self, rgb: np.ndarray, overlays: list[Overlay] | tuple[Overlay, ...] = ()) -> np.ndarray:
        width, height = self.width, self.height
        half = (width // 2, height // 2)
        buffer = np.empty(width * height * 3 // 2, np.uint8)
        y_plane = buffer[: width * height].reshape(height, width)
        cb = buffer[width * height : width * height * 5 // 4].reshape(half[1], half[0])
        cr = buffer[width * height * 5 // 4 :].reshape(half[1], half[0])
        # Every OpenCV call below writes straight into the planes of `buffer` (dst=): no copies.
        if rgb.shape[1] * 2 == width and rgb.shape[0] * 2 == height:
            chroma = cv2.transform(rgb, _RGB_TO_YCBCR)
            cv2.resize(cv2.extractChannel(chroma, 0), (width, height), dst=y_plane, interpolation=cv2.INTER_LINEAR)
        else:
            if rgb.shape[:2] != (height, width):
                rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
            full = cv2.transform(rgb, _RGB_TO_YCBCR)
            cv2.extractChannel(full, 0, dst=y_plane)
            chroma = cv2.resize(full, half, interpolation=cv2.INTER_AREA)
        cv2.extractChannel(chroma, 1, dst=cb)
        cv2.extractChannel(chroma, 2, dst=cr)
        for overlay in overlays:
            _lay(y_plane, cb, cr, overlay)
        return buffer.reshape(height * 3 // 2, width)


def _lay(y_plane: np.ndarray, cb: np.ndarray, cr: np.ndarray, overlay: Overlay) -> None:
    """Blend an overlay towards `luma` and neutral chroma (text is drawn white or grey)."""
    height, width = y_plane.shape
    alpha = overlay.alpha
    x0, y0 = max(0, overlay.x), max(0, overlay.y)
    x1, y1 = min(width, overlay.x + alpha.shape[1]), min(height, overlay.y + alpha.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - overlay.y : y1 - overlay.y, x0 - overlay.x : x1 - overlay.x].astype(np.uint16)
    region = y_plane[y0:y1, x0:x1]
    region[:] = (region * (255 - a) + overlay.luma * a + 127) // 255
    cx0, cy0, cx1, cy1 = x0 // 2, y0 // 2, (x1 + 1) // 2, (y1 + 1) // 2
    small = cv2.resize(alpha, ((alpha.shape[1] + 1) // 2, (alpha.shape[0] + 1) // 2), interpolation=cv2.INTER_AREA)
    ox, oy = overlay.x // 2, overlay.y // 2
    a2 = small[cy0 - oy : cy1 - oy, cx0 - ox : cx1 - ox].astype(np.uint16)
    for plane in (cb, cr):
        part = plane[cy0 : cy0 + a2.shape[0], cx0 : cx0 + a2.shape[1]]
        a2c = a2[: part.shape[0], : part.shape[1]]
        part[:] = (part * (255 - a2c) + 128 * a2c + 127) // 255


Frame = np.ndarray | tuple[np.ndarray, list[Overlay]]


def encode(
    ctx: RunContext,
    path: Path,
    shape: Shape,
    frames: Iterator[Frame],
    *,
    audio: Path | None,
    preset: str,
    poster_at: int | None = None,
    stage: str = "render",
) -> np.ndarray:
    """Draw `frames` on this thread while a worker thread encodes them into an MP4; returns the poster
    frame (RGB, output size). Reports progress and checks for cancellation every BATCH frames."""
    # OpenCV's own thread pool spins while it waits and starves x264's threads on a small machine:
    # each drawing call here is small, so one OpenCV thread is faster overall.
    cv2.setNumThreads(1)
    converter = I420(shape.width, shape.height)
    poster_index = min(shape.frames - 1, shape.frames // 3 if poster_at is None else poster_at)
    handoff: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=8)
    failure: dict[str, BaseException] = {}

    def consume() -> None:
        try:
            x264, params = X264.get(preset, (preset, ""))
            with VideoWriter(
                path, shape.width, shape.height, shape.fps, audio=audio, preset=x264, x264_params=params
            ) as out:
                while (buffer := handoff.get()) is not None:
                    out.write(buffer, pixel_format="yuv420p")
        except BaseException as exc:  # re-raised on the drawing thread
            failure["error"] = exc
            while handoff.get() is not None:
                pass

    worker = threading.Thread(target=consume, name="cadenza-motion-encode", daemon=True)
    worker.start()
    written, poster = 0, None
    try:
        for frame in frames:
            if written >= shape.frames or failure:
                break
            rgb, overlays = frame if isinstance(frame, tuple) else (frame, [])
            buffer = converter.convert(rgb, overlays)
            if written == poster_index:
                poster = cv2.cvtColor(buffer, cv2.COLOR_YUV2RGB_I420)
            handoff.put(buffer)
            written += 1
            if written % BATCH == 0:
                ctx.check_cancelled()
                ctx.progress(0.02 + 0.93 * written / shape.frames, stage)
    finally:
        handoff.put(None)
        worker.join()
    if failure:
        raise failure["error"]
    if written != shape.frames:
        raise InputError(f"the source gave {written} frames, {shape.frames} were expected")
    return poster if poster is not None else np.zeros((shape.height, shape.width, 3), np.uint8)


def publish(
    ctx: RunContext,
    video: Path,
    poster: np.ndarray,
    shape: Shape,
    recipe: dict[str, Any],
    *,
    has_audio: bool,
) -> EngineOutput:
    """The artifacts of a motion run: the MP4, its poster (PNG) and the recipe."""
    poster_path = write_image(poster, ctx.scratch / "poster.png")
    recipe = recipe | {"output": shape.to_dict() | {"audio": has_audio, "seconds": round(shape.seconds, 4)}}
    recipe_path = ctx.scratch / "recipe.json"
    with atomic_path(recipe_path) as tmp:
        tmp.write_text(json.dumps(recipe, indent=2, sort_keys=True, default=str))
    ctx.progress(1.0, "done")
    return EngineOutput(
        [
            Artifact(video, "video", "video", "video/mp4", shape.seconds),
            Artifact(poster_path, "image", "poster", "image/png"),
            Artifact(recipe_path, "recipe", "recipe", "application/json"),
        ],
        recipe,
    )


def ease(t: np.ndarray | float) -> np.ndarray | float:
    """Cubic ease-in-out on [0, 1]."""
    t = np.clip(t, 0.0, 1.0)
    return np.where(t < 0.5, 4 * t**3, 1 - (-2 * t + 2) ** 3 / 2)


def pick_word(text: str, table: dict[str, tuple[str, ...]], default: str) -> str:
    """The first entry of `table` whose words appear in `text` (the prompt), else `default`."""
    lowered = text.lower()
    for name, words in table.items():
        if any(word in lowered for word in words):
            return name
    return default
