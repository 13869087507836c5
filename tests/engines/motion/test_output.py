"""The motion engine's MP4 shows the colours that were drawn, at every preset and both drawing sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cadenza.engines.base import RunContext
from cadenza.engines.motion.output import Shape, encode
from tests.engines.motion.conftest import frames_of, psnr

WIDTH, HEIGHT, FRAMES = 320, 176, 12
# Saturated primaries, the visualizer's palette ends, white, black and a mid grey.
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 40, 170), (40, 220, 255), (255, 255, 255), (0, 0, 0)]


def picture(width: int, height: int, index: int) -> np.ndarray:
    """Colour patches over a moving grey ramp (the ramp makes every frame differ, as a visualizer's do)."""
    ramp = (np.arange(width) * 255 // (width - 1) + 8 * index) % 256
    frame = np.repeat(np.repeat(ramp.astype(np.uint8)[None, :, None], height, 0), 3, 2)
    patch = width // len(COLOURS)
    for number, colour in enumerate(COLOURS):
        frame[: height // 2, number * patch : (number + 1) * patch] = colour
    return frame


@pytest.mark.parametrize("preset", ["fast", "balanced", "quality"])
@pytest.mark.parametrize("scale", [1, 2], ids=["full-size", "half-size"])
def test_every_preset_decodes_to_the_colours_drawn(preset: str, scale: int, tmp_path: Path) -> None:
    drawn = [picture(WIDTH // scale, HEIGHT // scale, index) for index in range(FRAMES)]
    shape = Shape(WIDTH, HEIGHT, 30, FRAMES)
    video = tmp_path / "video.mp4"
    encode(RunContext(seed=1, scratch=tmp_path), video, shape, iter(drawn), audio=None, preset=preset)
    decoded = frames_of(video)
    assert decoded.shape == (FRAMES, HEIGHT, WIDTH, 3)
    patch = WIDTH // scale // len(COLOURS) * scale  # a patch's width in the output
    for index in (0, FRAMES // 2, FRAMES - 1):
        expected = drawn[index] if scale == 1 else np.repeat(np.repeat(drawn[index], 2, 0), 2, 1)
        # The whole picture: what 4:2:0 chroma and CRF 20 keep of hard colour edges.
        assert psnr(decoded[index], expected) > 30, (preset, index)
        for number, colour in enumerate(COLOURS):
            # The inside of each patch (away from its chroma-blurred edges) is its colour.
            inside = decoded[index, 8 : HEIGHT // 2 - 8, number * patch + 8 : (number + 1) * patch - 8]
            error = np.abs(inside.reshape(-1, 3).mean(axis=0) - np.array(colour)).max()
            assert error < 4, (preset, index, colour, inside.reshape(-1, 3).mean(axis=0))
