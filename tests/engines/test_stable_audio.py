"""Stable Audio through the real loading path (model manager, from_pretrained) with a tiny random pipeline."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("diffusers")
pytest.importorskip("torchsde")

from cadenza.config import Settings
from cadenza.engines.base import RunContext
from cadenza.engines.stable_audio import StableAudioEngine
from cadenza.errors import Cancelled, EngineUnavailable, InputError
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store
from cadenza.jobs.worker import run_job
from cadenza.tasks import GenerateRequest
from tests.engines.tiny_models import tiny_stable_audio

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_stable_audio(tmp_path_factory.mktemp("models") / "tiny-stable-audio")


@pytest.fixture()
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CADENZA_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))


def generate(pipeline_dir: Path, tmp_path: Path, prompt: str, seed: int = 1, **ctx_args: object) -> np.ndarray:
    ctx = RunContext(seed=seed, scratch=tmp_path, device="cpu", **ctx_args)
    request = GenerateRequest(prompt=prompt, duration=6, advanced={"model": str(pipeline_dir), "steps": 6})
    output = StableAudioEngine().run(request, ctx)
    audio, rate = sf.read(output.artifacts[0].path)
    assert rate == 44100
    return audio


def test_generate_through_the_service_gives_stereo_at_the_requested_length(
    pipeline_dir: Path, tmp_path: Path, offline: None
) -> None:
    settings = Settings(home=tmp_path / "home")
    settings.home.mkdir()
    ensure_schema(settings.database)
    studio = JobService(settings, Store(settings.database))
    advanced = {"model": str(pipeline_dir), "steps": 5, "negative_prompt": "noise"}
    job = studio.submit(
        task="generate", engine="stable_audio", input={"prompt": "ambient", "duration": 7, "advanced": advanced}
    )
    done = run_job(settings, studio.store, job.id)
    assert done.status == "succeeded", done.error_message
    audio, rate = sf.read(settings.home / done.artifacts[0].path)
    assert rate == 44100 and audio.shape[1] == 2 and abs(len(audio) / rate - 7.0) < 0.05
    assert done.recipe["request"]["advanced"] == {"model": str(pipeline_dir), "steps": 5, "guidance_scale": 7.0,
                                                  "negative_prompt": "noise"}  # fmt: skip


def test_the_prompt_and_the_seed_steer_the_result(pipeline_dir: Path, tmp_path: Path) -> None:
    first = generate(pipeline_dir, tmp_path / "a", "dark techno kick")
    again = generate(pipeline_dir, tmp_path / "b", "dark techno kick")
    other_prompt = generate(pipeline_dir, tmp_path / "c", "sunny folk guitar")
    other_seed = generate(pipeline_dir, tmp_path / "d", "dark techno kick", seed=2)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other_prompt) and not np.allclose(first, other_seed)


def test_progress_per_step_and_cancel_between_steps(pipeline_dir: Path, tmp_path: Path) -> None:
    steps, cancel = [], threading.Event()

    def progress(fraction: float, stage: str) -> None:
        if stage == "denoise":
            steps.append(fraction)
            if len(steps) == 2:
                cancel.set()

    with pytest.raises(Cancelled):
        generate(pipeline_dir, tmp_path, "ambient", on_progress=progress, cancel_event=cancel)
    assert len(steps) == 2  # the third step never ran


def test_too_long_and_missing_model_errors(pipeline_dir: Path, tmp_path: Path, offline: None) -> None:
    request = GenerateRequest(prompt="x", duration=60, advanced={"model": str(pipeline_dir), "steps": 2})
    with pytest.raises(InputError, match=r"at most 47\.\d s"):
        StableAudioEngine().run(request, RunContext(seed=1, scratch=tmp_path, device="cpu"))
    ok, reason = StableAudioEngine().available()
    assert not ok and "hf download stabilityai/stable-audio-open-1.0" in reason
    with pytest.raises(EngineUnavailable):
        StableAudioEngine().run(GenerateRequest(prompt="x", duration=5), RunContext(seed=1, scratch=tmp_path))
