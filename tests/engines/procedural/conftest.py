"""A job service shared by a module's song-task tests, and running one task to success through it."""

from __future__ import annotations

import pytest

from cadenza.jobs.models import Job
from cadenza.jobs.service import JobService
from cadenza.jobs.worker import run_job
from tests.conftest import job_service


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> JobService:
    return job_service(tmp_path_factory.mktemp("studio") / "home")


def run(studio: JobService, task: str, **fields: object) -> Job:
    """Run `task` in this process and return its finished, succeeded job."""
    job = studio.submit(task=task, input=fields, enqueue=False)
    finished = run_job(studio.settings, studio.store, job.id)
    assert finished is not None and finished.status == "succeeded", finished and finished.error_message
    return finished
