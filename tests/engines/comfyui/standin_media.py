"""The files the stand-in ComfyUI writes: real MP4s of the asked size, frame count and rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def fitted(path: Path, width: int, height: int) -> np.ndarray:
    from cadenza.media.video import read_image

    return read_image(path, (width, height))


def write_video(path: Path, video: dict[str, Any], codec: str) -> None:
    """The frames the graph implies: guides as first/last frames, a source's frames inverted, otherwise a
    seeded moving gradient."""
    from cadenza.media.video import VideoWriter, read_frames

    image, fps = video["image"], video["fps"]
    width, height, count = image["w"], image["h"], image["frames"]
    audio = video["audio"]["path"] if video.get("audio") else None
    source = read_frames(image["video"], size=(width, height)) if image.get("video") else None
    ys, xs = np.mgrid[0:height, 0:width]
    seed = image.get("seed", 0)

    def frame(index: int) -> np.ndarray:
        if source is not None:
            return 255 - next(source)
        if index == 0 and image.get("first"):
            return fitted(image["first"]["path"], width, height)
        if index == count - 1 and image.get("last"):
            return fitted(image["last"]["path"], width, height)
        shift = index * 4 + seed % 97
        red = (xs + shift) % 256
        green = (ys + 2 * shift) % 256
        blue = np.full_like(xs, (seed * 37 + index * 3) % 256)
        return np.stack([red, green, blue], axis=-1).astype(np.uint8)

    if codec == "libx264":
        with VideoWriter(path, width, height, fps=round(float(fps)), audio=audio, preset="fast") as writer:
            for index in range(count):
                writer.write(frame(index))
        return
    import av  # another codec, without audio: what an old or custom save node might write

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=round(float(fps)))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(count):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame(index), format="rgb24")))
        container.mux(stream.encode(None))
