"""The job service: submit, get, list, cancel, delete. The only way work enters Cadenza.

Faces (API, CLI, UI) call these keyword-only methods; they never run engines themselves.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cadenza.config import Settings
from cadenza.engines import registry
from cadenza.errors import Conflict, InputError, QueueFull
from cadenza.jobs import sources
from cadenza.jobs.models import Job, Upload, utcnow
from cadenza.jobs.sources import SOURCE_KINDS
from cadenza.jobs.store import JobPage, Store, new_id
from cadenza.media.io import sha256_file
from cadenza.media.uploads import check_file
from cadenza.storage import storage_for
from cadenza.tasks import TASK_MODELS, describe_validation_error, parse_request

# video tasks whose length defaults to their source's: task -> the request field it comes from
LENGTH_FROM_SOURCE = {"a2v": "audio", "lipsync": "audio", "style": "video"}


@dataclass(frozen=True)
class Estimate:
    engine: str
    seconds: float
    duration: float | None  # the output's length the estimate assumed, when known


def _source_seconds(task: str, request: Any, settings: Settings, store: Store) -> float | None:
    """The length of the source a video task takes its duration from, read from its stored record."""
    field = LENGTH_FROM_SOURCE.get(task)
    source_id = getattr(request, field, None) if field else None
    if not source_id or source_id == "pending":
        return None
    resolved, _ = sources.resolve(settings, store, source_id, SOURCE_KINDS[field], field)
    return sources.duration_of(resolved.path)


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
        source = None
        for name, kind in SOURCE_KINDS.items():
            source_id = getattr(request, name, None)
            if source_id:
                resolved, source_job = sources.resolve(self.settings, self.store, source_id, kind, name)
                source = source or resolved
                parent_id = parent_id or (source_job.id if source_job else None)
        chosen = registry.pick(task, engine, source, request)
        if request.advanced.get("loras"):  # before the schema check: "takes no adapters" says more than "extra"
            from cadenza.loras.choices import for_request, pinned

            request.advanced["loras"] = pinned(for_request(self.settings.home, chosen, request))
        advanced_model = chosen.advanced_model(task)
        if advanced_model is not None:
            try:
                advanced_model.model_validate(request.advanced)
            except ValidationError as exc:
                raise InputError("advanced." + describe_validation_error(exc)) from None
        check = getattr(chosen, "check_request", None)
        if check is not None:  # the engine's own rules (LTX shapes), refused before the job is queued
            check(request)
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
            prompt=str(getattr(request, "prompt", "") or "") or (source.name if source else ""),
            max_attempts=self.settings.max_attempts,
            parent_id=parent_id,
            idempotency_key=idempotency_key,
        )
        if created and enqueue and self.enqueue is not None:
            self.enqueue(job.id)
        return job

    def estimate(self, *, task: str, input: dict[str, Any], engine: str | None = None) -> Estimate:
        """The engine's rough wall time for a request, before it is submitted (nothing is recorded).

        File inputs (and a prompt) not given yet stand in as placeholders: the estimate depends on the
        shape of the work, not on the file or the words. When a video's length is left to its source
        (a2v, lipsync, style), the source's own length is used.
        """
        model = TASK_MODELS.get(task)
        placeholders = {
            name: "pending"
            for name in (*SOURCE_KINDS, "prompt")
            if model is not None and name in model.model_fields and model.model_fields[name].is_required()
        }
        request = parse_request(task, {**placeholders, **{k: v for k, v in input.items() if v not in (None, "")}})
        source = None
        for name, kind in SOURCE_KINDS.items():
            source_id = getattr(request, name, None)
            if source_id and source_id != placeholders.get(name):
                resolved, _ = sources.resolve(self.settings, self.store, source_id, kind, name)
                source = source or resolved
        chosen = registry.pick(task, engine, source, request)
        if getattr(request, "duration", "unset") is None and getattr(request, "frames", None) is None:
            length = _source_seconds(task, request, self.settings, self.store)
            if length:
                request.duration = length
        return Estimate(chosen.name, float(chosen.estimate_seconds(request)), getattr(request, "duration", None))

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
        storage_for(self.settings).delete_prefix(f"artifacts/{job_id}")

    def add_upload(self, temporary: Path, filename: str) -> Upload:
        """Check a received file (it must decode completely) and keep it as an upload."""
        checked = check_file(
            temporary,
            filename,
            max_video_seconds=self.settings.max_video_seconds,
            max_video_side=self.settings.max_video_side,
        )
        upload_id = new_id()
        final = self.settings.uploads_dir / f"{upload_id}.{checked.extension}"
        final.parent.mkdir(parents=True, exist_ok=True)
        size, digest = temporary.stat().st_size, sha256_file(temporary)
        os.replace(temporary, final)
        upload = Upload(
            id=upload_id,
            filename=filename[:200],
            kind=checked.kind,
            path=str(final.relative_to(self.settings.home)),
            mime=checked.mime,
            bytes=size,
            sha256=digest,
            duration_s=checked.duration_s,
            sample_rate=checked.sample_rate,
            created_at=utcnow(),
        )
        return self.store.add_upload(upload)

    def upload_file(self, path: Path) -> Upload:
        """A local file (the CLI's sources): copied into the data dir, then checked like any upload."""
        if not path.is_file():
            raise InputError(f"{path} is not a file")
        if path.stat().st_size > self.settings.max_upload_mb * 1024 * 1024:
            raise InputError(f"{path.name} exceeds {self.settings.max_upload_mb:g} MB (CADENZA_MAX_UPLOAD_MB)")
        self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.settings.uploads_dir, prefix=".incoming-")
        os.close(handle)
        try:
            shutil.copyfile(path, temporary)
            return self.add_upload(Path(temporary), path.name)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
