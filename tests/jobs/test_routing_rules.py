"""The rules that decide whether a job for an engine this host cannot run is accepted (jobs/routing.py),
on a real SQLite store with worker rows written by the workers' own `announce`. The full path with real
processes is tests/jobs/test_remote_engines.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from cadenza.config import Settings
from cadenza.errors import EngineUnavailable, InputError
from cadenza.jobs.models import Worker, utcnow
from cadenza.jobs.workers import Offer, announce, forget
from tests.conftest import job_service

VIDEO = {"prompt": "a fox", "width": 64, "height": 64, "frames": 9}


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CADENZA_MODELS_DIR", str(tmp_path / "no-models"))  # no LTX weights on this host
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    service = job_service(tmp_path / "home")
    service.settings = Settings(home=service.settings.home, queue_url="redis://queue.internal:6379/0")
    return service


def test_only_a_worker_offering_the_engine_or_one_on_record_lets_the_job_in(studio) -> None:
    with pytest.raises(EngineUnavailable) as refused:
        studio.submit(task="t2v", engine="ltx", input=VIDEO)
    assert "no worker offers it" in refused.value.message and "motion: this host" in refused.value.message

    announce(studio.store, "gpu-1:311", Offer(("ltx",), "cuda:0", 1))
    job = studio.submit(task="t2v", engine="ltx", input=VIDEO)
    assert job.engine == "ltx" and job.status == "queued"
    with pytest.raises(InputError, match="not a multiple of 32"):  # checked here: the class needs no weights
        studio.submit(task="t2v", engine="ltx", input={**VIDEO, "height": 72})

    with studio.store.sessions.begin() as session:  # its heartbeat stopped ten minutes ago: expected back
        session.execute(update(Worker).values(heartbeat_at=utcnow() - timedelta(minutes=10)))
    assert studio.submit(task="t2v", engine="ltx", input={**VIDEO, "prompt": "an owl"}).engine == "ltx"

    forget(studio.store, "gpu-1:311")  # stopped on purpose: no longer promised
    with pytest.raises(EngineUnavailable, match="no worker offers it"):
        studio.submit(task="t2v", engine="ltx", input=VIDEO)


def test_on_the_embedded_queue_this_host_alone_decides(studio) -> None:
    studio.settings = Settings(home=studio.settings.home)  # SQLite queue: every consumer takes every job
    announce(studio.store, "gpu-1:311", Offer(("ltx",), "cuda:0", 1))
    with pytest.raises(EngineUnavailable) as refused:
        studio.submit(task="t2v", engine="ltx", input=VIDEO)
    assert "no worker offers it" not in refused.value.message
