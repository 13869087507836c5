"""A real Cadenza song (procedural, with lyrics) and helpers to run the motion engine and read its frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cadenza.engines.base import EngineOutput, RunContext, SourceFile
from cadenza.engines.motion.engine import MotionEngine
from cadenza.engines.procedural.engine import ProceduralEngine
from cadenza.media.video import read_frames
from cadenza.tasks import GenerateRequest

LYRICS = "[Verse]\nRain on the window\nLights on the road\n[Chorus]\nWe keep on driving\nHome through the cold\n"


@pytest.fixture(scope="session")
def song(tmp_path_factory: pytest.TempPathFactory) -> SourceFile:
    scratch = tmp_path_factory.mktemp("song")
    request = GenerateRequest(prompt="synth pop, driving", duration=20, bpm=150, seed=5, lyrics=LYRICS)
    out = ProceduralEngine().run(request, RunContext(seed=5, scratch=scratch))
    files = {artifact.role: artifact.path for artifact in out.artifacts}
    return SourceFile(files["mix"], "song", out.recipe, files)


def run(request: object, tmp_path: Path, seed: int = 7, **inputs: SourceFile) -> EngineOutput:
    scratch = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    scratch.mkdir()
    return MotionEngine().run(request, RunContext(seed=seed, scratch=scratch, inputs=inputs))  # type: ignore[arg-type]


def video_of(output: EngineOutput) -> Path:
    return next(a.path for a in output.artifacts if a.role == "video")


def frames_of(path: Path) -> np.ndarray:
    return np.stack(list(read_frames(path)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)
