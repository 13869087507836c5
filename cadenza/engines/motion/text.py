"""Text as alpha masks (Pillow's bundled DejaVu Sans, no system fonts) and `.lrc` lyric timing."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

_LRC_TIME = re.compile(r"\[(\d+):(\d+(?:\.\d+)?)\]")


@lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def wrap(text: str, size: int, max_width: int) -> list[str]:
    """Words of `text` broken into lines no wider than `max_width` pixels at font `size`."""
    font = _font(size)
    lines: list[str] = []
    for paragraph in text.splitlines() or [text]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and font.getlength(candidate) > max_width:
                lines.append(line)
                line = word
            else:
                line = candidate
        if line:
            lines.append(line)
    return lines


@lru_cache(maxsize=64)
def text_mask(text: str, size: int, max_width: int) -> np.ndarray:
    """The text, wrapped and centred, as an (h, w) uint8 alpha mask."""
    from PIL import Image, ImageDraw

    font = _font(size)
    lines = wrap(text, size, max_width) or [" "]
    line_height = int(size * 1.25)
    width = int(max(font.getlength(line) for line in lines)) + size
    height = line_height * len(lines) + size // 2
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        x = (width - font.getlength(line)) / 2
        draw.text((x, size // 4 + row * line_height), line, fill=255, font=font)
    return np.asarray(image, dtype=np.uint8).copy()


def halo(mask: np.ndarray, radius: int = 6) -> np.ndarray:
    """A blurred, widened copy of a text mask: the dark backing under captions."""
    import cv2

    grown = cv2.dilate(mask, np.ones((radius, radius), np.uint8))
    return cv2.GaussianBlur(grown, (0, 0), radius / 2)


def parse_lrc(text: str) -> list[tuple[float, str]]:
    """(start seconds, line) of every timed line of an .lrc file, in time order; metadata tags skipped."""
    lines = []
    for raw in text.splitlines():
        stamps = list(_LRC_TIME.finditer(raw))
        if not stamps:
            continue
        words = raw[stamps[-1].end() :].strip()
        for stamp in stamps:
            lines.append((int(stamp.group(1)) * 60 + float(stamp.group(2)), words))
    return sorted(lines)


def read_lrc(path: Path | None) -> list[tuple[float, str]]:
    if path is None or not Path(path).is_file():
        return []
    return parse_lrc(Path(path).read_text(errors="replace"))


def caption_index(lines: list[tuple[float, str]], fps: int, frames: int) -> np.ndarray:
    """Per frame, the index of the lyric line showing (-1: none). A line shows from the frame of its time
    until the next line, for at most 8 s; an empty line clears the caption."""
    index = np.full(frames, -1, np.int32)
    for number, (start, words) in enumerate(lines):
        first = round(start * fps)
        end = round(lines[number + 1][0] * fps) if number + 1 < len(lines) else frames
        end = min(end, first + 8 * fps, frames)
        if words and first < frames:
            index[max(0, first) : end] = number
    return index
