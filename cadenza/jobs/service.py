"""The job service: submit, get, list, cancel, delete. The only way work enters Cadenza.

Faces (API, CLI, UI) call these keyword-only methods; they never run engines themselves.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from cadenza.config import Settings
from cadenza.engines import registry
from cadenza.errors import Conflict, InputError, QueueFull
from cadenza.jobs.models import Job
from cadenza.jobs.store import JobPage, Store
from cadenza.tasks import describe_validation_error, parse_request


class JobService:
    def __init__(self, settings: Settings, store: Store, enqueue: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.enqueue = enqueue

    def submit(
        self,
        *,
        task: str,
        input: dict[str, Any],
        engine: str | None = None,
        parent_id: str | None = None,
        idempotency_key: str | None = None,
        enqueue: bool = True,
    ) -> Job:
        """Validate the request against the task and engine, fix its seed, record it and queue it."""
        request = parse_request(task, input)
        chosen = registry.pick(task, engine)
        advanced_model = chosen.advanced_model(task)
        if advanced_model is not None:
            try:
                advanced_model.model_validate(request.advanced)
            except ValidationError as exc:
                raise InputError("advanced." + describe_validation_error(exc)) from None
        if request.seed is None:
            request.seed = secrets.randbelow(2**32)
        if parent_id is not None:
            self.store.get_job(parent_id)
        depth = self.store.count("queued")
        if depth >= self.settings.max_queue_depth:
            raise QueueFull(
                f"the queue is full ({depth} jobs waiting, maximum {self.settings.max_queue_depth}); retry later",
                details={"queue_depth": depth, "max_queue_depth": self.settings.max_queue_depth},
            )
        job, created = self.store.create_job(
            task=task,
            engine=chosen.name,
            request=request.model_dump(mode="json", exclude={"task"}),
            prompt=str(getattr(request, "prompt", "") or ""),
            max_attempts=self.settings.max_attempts,
            parent_id=parent_id,
            idempotency_key=idempotency_key,
        )
        if created and enqueue and self.enqueue is not None:
            self.enqueue(job.id)
        return job

    def get(self, job_id: str) -> Job:
        return self.store.get_job(job_id)

    def list(
        self,
        *,
        status: str | None = None,
        task: str | None = None,
        text: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        return self.store.list_jobs(status=status, task=task, text=text, limit=limit, cursor=cursor)

    def cancel(self, job_id: str) -> Job:
        return self.store.request_cancel(job_id)

    def delete(self, job_id: str) -> None:
        """Remove a finished or queued job with its files; a running job must be cancelled first."""
        job = self.store.get_job(job_id)
        if job.status == "running":
            raise Conflict(f"job {job_id} is running; cancel it first (POST /api/v1/jobs/{job_id}/cancel)")
        if job.status == "queued":
            self.store.request_cancel(job_id)
        self.store.delete_job(job_id)
        shutil.rmtree(self.settings.artifacts_dir / job_id, ignore_errors=True)
