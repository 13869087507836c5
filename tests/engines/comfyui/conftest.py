"""Fixtures: a stand-in ComfyUI server (the one remote service stood in for), a real job studio, and
small real media files (PNG, WAV, MP4) to use as inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cadenza.config import Settings
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store
from tests.engines.comfyui.standin import Running, StandIn


@pytest.fixture()
def standin() -> StandIn:
    return StandIn()


@pytest.fixture()
def server(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    with Running(standin) as running:
        monkeypatch.setenv("CADENZA_COMFYUI_URL", running.url)
        monkeypatch.delenv("CADENZA_COMFYUI_HEADER", raising=False)
        yield running


@pytest.fixture()
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JobService:
    home = tmp_path / "home"
    monkeypatch.setenv("CADENZA_HOME", str(home))  # the engine finds user workflows in the data dir
    settings = Settings(home=home)
    settings.home.mkdir()
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


def picture(path: Path, width: int = 320, height: int = 240, hue: int = 0) -> Path:
    """A PNG with structure (gradients and a block), distinct per hue."""
    from PIL import Image

    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([(xs * 255 // width + hue) % 256, ys * 255 // height, np.full_like(xs, hue)], axis=-1)
    image[height // 3 : height // 2, width // 4 : width // 2] = (255 - hue, 40, 200)
    Image.fromarray(image.astype(np.uint8)).save(path)
    return path


def song(path: Path, seconds: float = 2.0, rate: int = 44100) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 330 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    sf.write(path, np.stack([tone, tone], axis=1), rate)
    return path


def clip(path: Path, width: int = 128, height: int = 96, frames: int = 16, fps: int = 8) -> Path:
    """An MP4 with moving content and a soundtrack."""
    from cadenza.media.video import VideoWriter

    audio = song(path.with_suffix(".wav"), frames / fps + 0.5)
    ys, xs = np.mgrid[0:height, 0:width]
    with VideoWriter(path, width, height, fps=fps, audio=audio) as writer:
        for index in range(frames):
            writer.write(np.stack([(xs + 8 * index) % 256, ys * 2 % 256, np.full_like(xs, 90)], -1).astype(np.uint8))
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255**2 / error)
