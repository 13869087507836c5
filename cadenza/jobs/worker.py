"""Run one job: claim it, build the RunContext, call the engine, store artifacts, record the outcome.

A heartbeat thread keeps the job's liveness and progress in the record and turns a cancel request
into the RunContext's cancel event. Files become artifacts only when the run succeeds: the engine
writes into a private scratch dir, the files are renamed into a staging dir, the staging dir is
renamed to `artifacts/<job id>` in one step, and only then does the record say `succeeded`.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from cadenza.config import Settings
from cadenza.engines import registry
from cadenza.engines.base import Artifact as EngineArtifact
from cadenza.engines.base import RunContext
from cadenza.errors import CadenzaError, Cancelled, NotFound, OutOfMemory, OutOfTime
from cadenza.jobs import sources
from cadenza.jobs.models import Artifact, Job
from cadenza.jobs.recovery import process_prefix
from cadenza.jobs.store import Store, new_id
from cadenza.loras.choices import for_request
from cadenza.media.io import sha256_file
from cadenza.storage import storage_for
from cadenza.tasks import parse_request

log = logging.getLogger("cadenza.worker")

Listener = Callable[[float, str], None]
PROGRESS_FLUSH_SECONDS = 0.25
CANCEL_POLL_SECONDS = 0.5
MAX_AUTOMATIC_RETRIES = 1  # a budgeted job past its budget or out of memory runs once more, then fails


def worker_id() -> str:
    return f"{process_prefix()}{uuid.uuid4().hex[:8]}"


class _Heartbeat(threading.Thread):
    """Writes progress and liveness to the record at least every 0.5 s (at most every 0.25 s) and
    sets `cancel` when the record says a cancel was requested."""

    def __init__(self, store: Store, job_id: str, worker: str, cancel: threading.Event) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.store, self.job_id, self.worker, self.cancel = store, job_id, worker, cancel
        self.progress, self.stage = 0.0, "starting"
        self.last_beat = 0.0
        self.wake, self.stopped = threading.Event(), threading.Event()

    def update(self, progress: float, stage: str) -> None:
        self.progress, self.stage = progress, stage
        if time.monotonic() - self.last_beat >= PROGRESS_FLUSH_SECONDS:
            self.wake.set()

    def run(self) -> None:
        # The claim recorded the first beat; a job that ends within the first interval needs no other.
        self.last_beat = time.monotonic()
        while not self.stopped.is_set():
            self.wake.wait(CANCEL_POLL_SECONDS)
            self.wake.clear()
            if self.stopped.is_set():
                break
            self.last_beat = time.monotonic()
            try:
                if self.store.heartbeat(self.job_id, self.worker, self.progress, self.stage):
                    self.cancel.set()
            except Exception:  # a database hiccup must not kill the job; the next beat retries
                log.exception("heartbeat failed for job %s", self.job_id)

    def stop(self) -> None:
        if self.is_alive():
            self.stopped.set()
            self.wake.set()
            self.join(timeout=5)


def run_job(
    settings: Settings,
    store: Store,
    job_id: str,
    *,
    worker: str | None = None,
    listener: Listener | None = None,
    cancel_event: threading.Event | None = None,
    report: bool = True,
) -> Job | None:
    """Run `job_id` if it is still queued; returns the finished job (read back only when `report`), or
    None if another worker had it."""
    worker = worker or worker_id()
    job = store.claim(job_id, worker)
    if job is None:
        return None
    cancel = cancel_event or threading.Event()
    heartbeat = _Heartbeat(store, job_id, worker, cancel)
    scratch = settings.scratch_dir / f"{job_id}-{job.attempts}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)

    def on_progress(fraction: float, stage: str) -> None:
        heartbeat.update(fraction, stage)
        if listener is not None:
            listener(fraction, stage)

    heartbeat.start()
    try:
        request = parse_request(job.task, job.request)
        engine = registry.pick(job.task, job.engine, request=request)
        registry.check(engine, job.task, request)  # again: the API's host may not have had the engine
        inputs = sources.resolve_inputs(settings, store, job.request)
        budgeted = bool(getattr(engine, "budgeted", False))
        budget = job.budget_s or (float(engine.estimate_seconds(request)) if budgeted else None)
        retries = job.retries or 0
        low_memory = (job.retry_reason or "").startswith("memory")
        loras = for_request(settings.home, engine, request)  # the pinned files, or a refusal
        while True:
            if budget is not None:
                store.set_budget(job_id, worker, budget)
            ctx = RunContext(
                loras=loras,
                inputs=inputs,
                seed=request.seed or 0,
                scratch=scratch,
                device=settings.device or "auto",  # neural engines resolve "auto" to cuda, mps or cpu
                on_progress=on_progress,
                cancel_event=cancel,
                deadline=time.monotonic() + budget if budget is not None else None,
                budget_s=budget,
                low_memory=low_memory,
            )
            try:
                ctx.check_cancelled()
                output = engine.run(request, ctx)
                ctx.check_cancelled()
                break
            except Exception as exc:
                failure = retryable(exc) if budgeted else None
                if failure is None:
                    raise
                if retries >= MAX_AUTOMATIC_RETRIES or budget is None:
                    first = f" (retried after: {job.retry_reason or 'an earlier failure'})" if retries else ""
                    raise type(failure)(f"{failure.message}{first}") from exc
                retries += 1
                budget *= 2
                low_memory = low_memory or failure.category == "memory"
                reason = f"{failure.category}: {failure.message}; retrying with a budget of {budget:g} s"
                if failure.category == "memory":
                    reason += ", VAE tiling and CPU offload on"
                    _release_models()
                job.retry_reason = reason
                log.warning("job %s: %s", job_id, reason)
                store.record_retry(job_id, worker, reason, budget)
                on_progress(0.0, "retrying")
                shutil.rmtree(scratch, ignore_errors=True)
                scratch.mkdir(parents=True)
        on_progress(0.99, "store")
        source = inputs.get("source")
        base = f"{source.name}_{job.task}" if source else readable_stem(job, job.request.get("seed"))
        artifacts = _store_artifacts(settings, job, output.artifacts, base)
        if not store.succeed(job_id, worker, artifacts, output.recipe):  # cut off meanwhile: discard ours only
            log.warning("job %s was taken from worker %s; its late result is discarded", job_id, worker)
            storage_for(settings).delete([artifact.path for artifact in artifacts])
    except Cancelled:
        store.finish_unsuccessfully(job_id, worker, "cancelled", "cancelled by request", "cancelled")
    except CadenzaError as exc:
        store.finish_unsuccessfully(job_id, worker, "failed", exc.message, exc.category)
    except Exception as exc:
        # The exception's text is for the log: it can hold paths and library internals, not advice.
        log.exception("job %s failed", job_id)
        message = (
            f"the {job.engine} engine failed unexpectedly ({type(exc).__name__}); "
            "the server log has the details, and the same request with another seed or engine may work"
        )
        store.finish_unsuccessfully(job_id, worker, "failed", message, "engine")
    finally:
        # Beats written meanwhile cannot undo the outcome: a heartbeat only updates a job still running.
        heartbeat.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    if not report:
        return None
    try:
        return store.get_job(job_id)
    except NotFound:  # deleted while it ran: nothing is left to report
        log.info("job %s was deleted while it ran", job_id)
        return None


def retryable(exc: BaseException) -> OutOfTime | OutOfMemory | None:
    """The failure as a retryable error, if it is one: past the budget, or out of (GPU) memory."""
    if isinstance(exc, OutOfTime | OutOfMemory):
        return exc
    if isinstance(exc, CadenzaError):  # already judged by the engine (a remote server's own OOM is its error)
        return None
    # torch.cuda.OutOfMemoryError (and MPS's) without importing torch; a MemoryError from host memory
    if type(exc).__name__ == "OutOfMemoryError" or isinstance(exc, MemoryError) or "out of memory" in str(exc):
        return OutOfMemory(f"ran out of memory: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}")
    return None


def _release_models() -> None:
    """Unload this worker's cached models so a retry in low-memory mode starts from free memory."""
    devices = sys.modules.get("cadenza.engines.devices")
    if devices is not None:
        devices.MODELS.clear()


def readable_stem(job: Job, seed: int | None) -> str:
    """`2026-11-21_lofi-rain_s7`: date, a slug of the prompt (or the task), the seed."""
    words = re.findall(r"[a-z0-9]+", (job.prompt or job.task).lower())[:4]
    slug = "-".join(words)[:40] or job.task
    date = (job.created_at or datetime.now(UTC)).strftime("%Y-%m-%d")
    return f"{date}_{slug}_s{seed}" if seed is not None else f"{date}_{slug}"


def _file_name(base: str, artifact: EngineArtifact) -> str:
    suffix = "".join(artifact.path.suffixes) or ""
    if artifact.role in ("mix", "midi", "lyrics", "lrc", "video"):
        return f"{base}{suffix}"
    if artifact.role == "recipe":
        return f"{base}.recipe.json"
    role = re.sub(r"[^a-z0-9-]+", "-", artifact.role.lower().replace(":", "-")).strip("-")
    return f"{base}_{role}{suffix}"


def artifact_folder(job: Job) -> str:
    """`artifacts/<job id>`, and a folder per later attempt, so a late result of a cut-off worker can
    never overwrite or delete the files of the attempt that succeeded."""
    return f"artifacts/{job.id}" + (f"/attempt-{job.attempts}" if job.attempts > 1 else "")


def _store_artifacts(settings: Settings, job: Job, produced: list[EngineArtifact], base: str) -> list[Artifact]:
    """Publish the files through the storage (a rename on a local disk, an upload to S3); the record
    that names them is written afterwards, only if this worker still owns the job."""
    if not produced:
        return []
    storage = storage_for(settings)
    folder = artifact_folder(job)
    names: list[str] = []
    for artifact in produced:
        name = _file_name(base, artifact)
        while name in names:
            name = f"{Path(name).stem}-{len(names)}{Path(name).suffix}"
        names.append(name)
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = list(pool.map(sha256_file, [artifact.path for artifact in produced]))
    records = []
    for position, (artifact, name, digest) in enumerate(zip(produced, names, digests, strict=True)):
        key = f"{folder}/{name}"
        size = artifact.path.stat().st_size
        storage.put_file(artifact.path, key)
        records.append(
            Artifact(
                id=new_id(),
                job_id=job.id,
                position=position,
                kind=artifact.kind,
                role=artifact.role,
                path=key,
                mime=artifact.mime,
                bytes=size,
                sha256=digest,
                duration_s=artifact.duration_s,
                sample_rate=artifact.sample_rate,
            )
        )
    return records
