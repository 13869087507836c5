"""The job service: submit, get, list, cancel, delete. The only way work enters Cadenza.

Faces (API, CLI, UI) call these keyword-only methods; they never run engines themselves.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cadenza.config import Settings
from cadenza.engines import registry
from cadenza.errors import CadenzaError, Conflict, EngineUnavailable, InputError, NotFound
from cadenza.jobs import routing, sources
from cadenza.jobs.models import Job, Upload, utcnow
from cadenza.jobs.sources import SOURCE_KINDS
from cadenza.jobs.store import JobPage, Store, new_id
from cadenza.media.io import sha256_file
from cadenza.media.uploads import check_file
from cadenza.storage import storage_for
from cadenza.tasks import TASK_MODELS, parse_request

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


MB = 1024 * 1024


class QuotaExceeded(CadenzaError):
    category = "quota"


@dataclass(frozen=True)
class _Submission:
    """What a client sent, to tell a retry (the same request again) from a reused idempotency key."""

    task: str
    engine: str | None
    parent_id: str | None
    request: dict[str, Any]

    def same_as(self, earlier: Job, key: str) -> Job:
        request = dict(self.request)
        if request.get("seed") is None:  # the earlier job's seed was drawn for it
            request["seed"] = earlier.request.get("seed")
        same = (
            earlier.task == self.task
            and earlier.request == request
            and self.engine in (None, earlier.engine)
            and self.parent_id in (None, earlier.parent_id)
        )
        if not same:
            raise Conflict(
                f"Idempotency-Key {key!r} was already used for a different request (job {earlier.id}, "
                f"task {earlier.task}); send the same request to get that job back, or use a new key",
                details={"job_id": earlier.id},
            )
        return earlier


def _refuse_non_finite(value: Any, path: str = "") -> None:
    """NaN and infinity anywhere in a request (JSON allows them as an extension) are refused by name,
    before any range check would call them "greater than 600"."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{path or 'input'}: {value} is not a finite number; give an ordinary number")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_non_finite(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_non_finite(item, f"{path}.{index}")


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
        strict: bool = False,
    ) -> Job:
        """Validate the request against the task and engine, fix its seed, record it and queue it.

        An idempotency key already used returns its job (even when the queue has filled since), or a
        Conflict when the request differs from the one first sent with it.
        """
        _refuse_non_finite(input)
        request = parse_request(task, input, strict=strict)
        submission = _Submission(task, engine, parent_id, request.model_dump(mode="json", exclude={"task"}))
        if idempotency_key is not None:
            earlier = self.store.job_with_key(idempotency_key)
            if earlier is not None:
                return submission.same_as(earlier, idempotency_key)
        source = None
        for name, kind in SOURCE_KINDS.items():
            source_id = getattr(request, name, None)
            if source_id:
                resolved, source_job = sources.resolve(self.settings, self.store, source_id, kind, name)
                source = source or resolved
                parent_id = parent_id or (source_job.id if source_job else None)
                self.store.touch_upload(source_id)  # a use: an upload expires counting from its last one
        route = routing.choose(self.settings, self.store, task, engine, source, request)
        chosen = route.engine
        if chosen is not None:  # else its package is not installed here: the worker checks the request
            if request.advanced.get("loras"):  # before the schema check: "takes no adapters" says more
                from cadenza.loras.choices import for_request, pinned

                request.advanced["loras"] = pinned(for_request(self.settings.home, chosen, request))
            registry.check(chosen, task, request)  # the engine's own rules (LTX shapes) before queueing
        if request.seed is None:
            request.seed = secrets.randbelow(2**32)
        if parent_id is not None:
            self.store.get_job(parent_id)
        job, created = self.store.create_job(
            task=task,
            engine=route.name,
            request=request.model_dump(mode="json", exclude={"task"}),
            prompt=str(getattr(request, "prompt", "") or "") or (source.name if source else ""),
            max_attempts=self.settings.max_attempts,
            parent_id=parent_id,
            idempotency_key=idempotency_key,
            max_queued=self.settings.max_queue_depth,
        )
        if not created:  # a concurrent request with the same key won the insert
            return submission.same_as(job, idempotency_key or "")
        if enqueue and self.enqueue is not None:
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
        route = routing.choose(self.settings, self.store, task, engine, source, request)
        chosen = route.engine
        if chosen is None:
            raise EngineUnavailable(
                f"engine {route.name!r} is not installed on this host, so it cannot estimate here; "
                "a worker offers it, so the job itself can be submitted"
            )
        if getattr(request, "duration", "unset") is None and getattr(request, "frames", None) is None:
            length = _source_seconds(task, request, self.settings, self.store)
            if length:
                request.duration = length
        return Estimate(chosen.name, float(chosen.estimate_seconds(request)), getattr(request, "duration", None))

    def get(self, job_id: str) -> Job:
        return self.store.get_job(job_id)

    def resolve_id(self, prefix: str) -> str:
        """The job id that `prefix` begins (a whole id is its own prefix); NotFound or InputError
        when none or several do."""
        found = self.store.job_ids_starting(prefix, limit=3)
        if not found:
            raise NotFound(f"no job id begins with {prefix!r}; see `cadenza jobs list`")
        if len(found) > 1 and prefix not in found:
            shown = ", ".join(found[:2]) + (", ..." if len(found) > 2 else "")
            raise InputError(f"{prefix!r} begins several job ids ({shown}); give more characters")
        return prefix if prefix in found else found[0]

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
        if not self.store.delete_job(job_id):
            raise Conflict(f"job {job_id} is running; cancel it first (POST /api/v1/jobs/{job_id}/cancel)")
        storage_for(self.settings).delete_prefix(f"artifacts/{job_id}")

    def add_upload(self, temporary: Path, filename: str) -> tuple[Upload, bool]:
        """Check a received file (it must decode completely) and keep it as an upload.

        Storage is content-addressed: the same bytes uploaded again return the upload that holds them
        (and count as a use), False as the second value. New bytes must fit CADENZA_UPLOAD_QUOTA_MB.
        """
        checked = check_file(
            temporary,
            filename,
            max_video_seconds=self.settings.max_video_seconds,
            max_video_side=self.settings.max_video_side,
        )
        size, digest = temporary.stat().st_size, sha256_file(temporary)
        storage = storage_for(self.settings)
        existing = self.store.upload_with_sha(digest)
        if existing is not None and storage.exists(existing.path):
            self.store.touch_upload(existing.id)
            return self.store.get_upload(existing.id), False
        quota = self.settings.upload_quota_mb * MB
        used = self.store.uploads_bytes()
        if used + size > quota:
            raise QuotaExceeded(
                f"{filename!r} ({size / MB:.1f} MB) does not fit: uploads use {used / MB:.1f} MB of the "
                f"{self.settings.upload_quota_mb:g} MB quota (CADENZA_UPLOAD_QUOTA_MB); delete uploads you no longer "
                f"need (DELETE /api/v1/uploads/{{id}}), or wait: unused uploads are deleted "
                f"{self.settings.upload_ttl_hours:g} hours after their last use",
                details={"used_bytes": used, "quota_bytes": int(quota)},
            )
        # Through the artifacts' storage, so a worker on another host reads it (S3 or a shared mount)
        key = f"uploads/{digest}.{checked.extension}"
        os.chmod(temporary, 0o644)  # mkstemp made it private; it is data like any artifact
        storage.put_file(temporary, key)
        upload = Upload(
            id=new_id(),
            filename=filename[:200],
            kind=checked.kind,
            path=key,
            mime=checked.mime,
            bytes=size,
            sha256=digest,
            duration_s=checked.duration_s,
            sample_rate=checked.sample_rate,
            created_at=utcnow(),
        )
        return self.store.add_upload(upload), True

    def delete_upload(self, upload_id: str) -> None:
        """Delete an upload and its file; one a queued or running job still needs is a Conflict."""
        self.store.get_upload(upload_id)
        job_id = self.store.sources_of_unfinished_jobs(SOURCE_KINDS).get(upload_id)
        if job_id is not None:
            raise Conflict(f"upload {upload_id} is the source of job {job_id}, which has not finished; cancel it first")
        self._remove_upload(upload_id)

    def expire_uploads(self) -> list[str]:
        """Delete uploads unused for CADENZA_UPLOAD_TTL_HOURS, except those unfinished jobs need."""
        cutoff = utcnow() - timedelta(hours=self.settings.upload_ttl_hours)
        needed = self.store.sources_of_unfinished_jobs(SOURCE_KINDS)
        expired = [u.id for u in self.store.uploads_unused_since(cutoff) if u.id not in needed]
        for upload_id in expired:
            self._remove_upload(upload_id)
        return expired

    def _remove_upload(self, upload_id: str) -> None:
        upload = self.store.get_upload(upload_id)
        if self.store.delete_upload(upload_id):
            storage_for(self.settings).delete([upload.path])

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
            return self.add_upload(Path(temporary), path.name)[0]
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
