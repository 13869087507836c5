"""Recovery: huey does not acknowledge tasks, so a job left `running` by a dead worker is ours to fix.

It is requeued while attempts remain and failed as `interrupted` after that. Queued jobs are
re-enqueued on start (a duplicate queue entry is harmless: only one worker can claim a job).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from cadenza.config import Settings
from cadenza.jobs.models import Job
from cadenza.jobs.store import Store

log = logging.getLogger("cadenza.recovery")


def process_prefix() -> str:
    """`host:pid:`, how every worker id of this process begins."""
    return f"{socket.gethostname()}:{os.getpid()}:"


def _process_alive(worker_id: str) -> bool:
    try:
        pid = int(worker_id.split(":")[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _recover(store: Store, job: Job, enqueue: Callable[[str], None]) -> None:
    if store.requeue(job.id, job.worker_id):
        log.warning("job %s lost its worker %s; requeued", job.id, job.worker_id)
        enqueue(job.id)
    else:
        store.finish_unsuccessfully(
            job.id,
            job.worker_id,
            "failed",
            f"interrupted: its worker stopped during attempt {job.attempts} of {job.max_attempts}",
            "interrupted",
        )
        log.warning("job %s lost its worker %s after %s attempts; failed", job.id, job.worker_id, job.attempts)


def recover_on_start(settings: Settings, store: Store, enqueue: Callable[[str], None]) -> None:
    """Jobs of dead processes on this host, stale jobs anywhere, and queued jobs the queue lost."""
    host = socket.gethostname()
    for job in store.running_on(f"{host}:"):
        if job.worker_id and not _process_alive(job.worker_id):
            _recover(store, job, enqueue)
    reap_stale(settings, store, enqueue)
    for job_id in store.queued_ids():
        enqueue(job_id)
    running = {job.id for job in store.running_on("")}
    if settings.scratch_dir.exists():
        for leftover in settings.scratch_dir.iterdir():
            if leftover.name.split("-")[0] not in running:
                shutil.rmtree(leftover, ignore_errors=True)


def reap_stale(settings: Settings, store: Store, enqueue: Callable[[str], None]) -> None:
    """Recover running jobs whose heartbeat is older than the threshold, except this process's own: a
    process able to reap is alive, and its beats were only late (a stall of the whole process: CPU
    starvation, a long call holding the GIL) when its reaper woke first."""
    own = process_prefix()
    for job in store.stale_running(timedelta(seconds=settings.stale_after_seconds)):
        if not (job.worker_id or "").startswith(own):
            _recover(store, job, enqueue)


class Reaper(threading.Thread):
    """Looks for jobs whose worker stopped beating, every half of the stale threshold, and runs the
    `chores` (expiring unused uploads) at most every CHORE_SECONDS (sooner when uploads expire sooner)."""

    CHORE_SECONDS = 60.0

    def __init__(
        self,
        settings: Settings,
        store: Store,
        enqueue: Callable[[str], None],
        chores: Sequence[Callable[[], object]] = (),
    ) -> None:
        super().__init__(name="cadenza-reaper", daemon=True)
        self.settings, self.store, self.enqueue, self.chores = settings, store, enqueue, chores
        self.stopped = threading.Event()

    def run(self) -> None:
        chore_every = min(self.CHORE_SECONDS, self.settings.upload_ttl_hours * 3600 / 2)
        last_chores = float("-inf")
        while True:
            now = time.monotonic()
            if now - last_chores >= chore_every:
                last_chores = now
                for chore in self.chores:
                    try:
                        chore()
                    except Exception:
                        log.exception("%s failed", getattr(chore, "__name__", "a chore"))
            if self.stopped.wait(min(self.settings.stale_after_seconds / 2, chore_every)):
                return
            try:
                reap_stale(self.settings, self.store, self.enqueue)
            except Exception:
                log.exception("reaping stale jobs failed")

    def stop(self) -> None:
        self.stopped.set()
