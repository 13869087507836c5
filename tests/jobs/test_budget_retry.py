"""The time budget of a budgeted engine's job and its one automatic retry, with a tiny random LTX-Video
model: a first run past its budget runs again with double the budget; a second failure is a clear
failed job; the record (as the API and `cadenza jobs show` serialise it) says why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from cadenza.jobs.schemas import job_public
from cadenza.jobs.service import JobService
from cadenza.jobs.worker import run_job
from tests.conftest import job_service
from tests.engines.tiny_models import tiny_ltx_video

pytestmark = pytest.mark.slow
SHAPE = {"prompt": "a red fox", "width": 64, "height": 64, "frames": 9, "preset": "fast"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_ltx_video(tmp_path_factory.mktemp("models") / "tiny-ltx")


@pytest.fixture()
def studio(tmp_path: Path) -> JobService:
    return job_service(tmp_path / "home")


def submit(studio: JobService, model: Path, **advanced: object):
    return studio.submit(task="t2v", engine="ltx", input={**SHAPE, "advanced": {"model": str(model), **advanced}})


def test_a_first_run_past_its_budget_is_retried_with_double_and_succeeds(model: Path, studio: JobService) -> None:
    attempts: list[str] = []

    def slow_first_attempt(_fraction: float, stage: str) -> None:
        # The simulated slow step: the first attempt's 4 denoising steps take 2 s each, past its 8 s
        # budget; the retry's 16 s leave room for a loaded machine.
        if stage == "retrying" or not attempts:
            attempts.append(stage)
        if stage == "denoise" and len(attempts) == 1:
            time.sleep(2.0)

    job = submit(studio, model, time_budget_s=8.0)
    done = run_job(studio.settings, studio.store, job.id, listener=slow_first_attempt)
    assert done.status == "succeeded", done.error_message
    assert attempts[-1] == "retrying" and len(attempts) == 2
    public = job_public(done)
    assert public.retries == 1 and public.budget_s == 16.0 and public.attempts == 1
    assert public.retry_reason.startswith("timeout: ran past its time budget of 8 s; retrying with a budget of 16 s")
    assert [a.role for a in public.artifacts] == ["video", "poster", "recipe"]


def test_a_second_run_past_the_doubled_budget_is_a_clear_failure(model: Path, studio: JobService) -> None:
    job = submit(studio, model, time_budget_s=0.01)
    done = run_job(studio.settings, studio.store, job.id)
    public = job_public(done)
    assert public.status == "failed" and public.error.category == "timeout"
    assert public.error.message.startswith("ran past its time budget of 0.02 s (retried after: timeout: ran past")
    assert public.retries == 1 and public.budget_s == 0.02 and not public.artifacts


def test_out_of_memory_is_retried_once_with_memory_savers_then_fails_clearly(
    model: Path, studio: JobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadenza.engines.devices import MODELS

    MODELS.clear()
    monkeypatch.setenv("CADENZA_MODEL_MEMORY_MB", "0.001")  # smaller than any model: the gate refuses
    done = run_job(studio.settings, studio.store, submit(studio, model).id)
    public = job_public(done)
    assert public.status == "failed" and public.error.category == "memory"
    assert "needs about" in public.error.message and "(retried after: memory:" in public.error.message
    assert public.retries == 1 and "VAE tiling and CPU offload on" in public.retry_reason


def test_engines_without_a_budget_keep_running_unbudgeted(studio: JobService) -> None:
    job = studio.submit(task="generate", engine="noop", input={"prompt": "x", "duration": 5})
    done = run_job(studio.settings, studio.store, job.id)
    assert done.status == "succeeded" and done.budget_s is None and done.retries == 0
