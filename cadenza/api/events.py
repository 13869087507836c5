"""One watcher per process for the job event streams: it reads the state of every watched job in one
query a few times a second and wakes the streams of the jobs that changed.

Each stream polling the database on its own cost one query and one thread hop per stream every 0.2 s:
200 streams on one job took 94% of a core and slowed every other request to 0.2-0.5 s. Now the cost
follows the number of watched jobs (one `IN` query for all of them), and a stream only formats what
changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property

from fastapi.sse import format_sse_event
from sqlalchemy import select

from cadenza.errors import NotFound
from cadenza.jobs.models import FINISHED, Job
from cadenza.jobs.store import Store

log = logging.getLogger("cadenza.events")
WATCH_SECONDS = 0.25  # as often as a worker writes progress (worker.PROGRESS_FLUSH_SECONDS)


def sse(event: str, data: object) -> bytes:
    return format_sse_event(event=event, data_str=json.dumps(data, separators=(",", ":")))


@dataclass(frozen=True)
class JobState:
    status: str
    progress: float
    stage: str
    job: Job | None = None  # the whole record, read once, when the job has finished

    # One state is shared by every stream of its job: each event is formatted once, not once per stream.
    @cached_property
    def status_event(self) -> bytes:
        return sse("status", self.status)

    @cached_property
    def progress_event(self) -> bytes:
        return sse("progress", {"value": self.progress, "stage": self.stage})


@dataclass(eq=False)
class Watch:
    """One stream's view: the latest state and an event set when it changes."""

    job_id: str
    state: JobState
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def next(self, timeout: float) -> JobState | None:
        """The state after the next change, or None when `timeout` passes without one."""
        if not self.changed.is_set():
            try:
                async with asyncio.timeout(timeout):  # no task per wait, unlike asyncio.wait_for
                    await self.changed.wait()
            except TimeoutError:
                return None
        self.changed.clear()
        return self.state


class JobWatcher:
    def __init__(self, store: Store, interval: float = WATCH_SECONDS) -> None:
        self.store, self.interval = store, interval
        self.watches: dict[str, set[Watch]] = {}
        self.task: asyncio.Task | None = None

    @asynccontextmanager
    async def watch(self, job: Job) -> AsyncIterator[Watch]:
        """Follow `job` (as already read) until the block ends."""
        watch = Watch(job.id, JobState(job.status, job.progress, job.stage, job if job.status in FINISHED else None))
        self.watches.setdefault(job.id, set()).add(watch)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="cadenza-job-watcher")
        try:
            yield watch
        finally:
            subscribers = self.watches.get(job.id)
            if subscribers is not None:
                subscribers.discard(watch)
                if not subscribers:
                    del self.watches[job.id]

    async def _run(self) -> None:
        while self.watches:
            await asyncio.sleep(self.interval)
            try:
                await self._refresh()
            except Exception:  # a database hiccup: streams keep their last state until the next read
                log.exception("reading watched jobs failed")

    async def _refresh(self) -> None:
        ids = list(self.watches)
        if not ids:
            return
        states = await asyncio.to_thread(self._read, ids)
        for job_id in ids:
            state = states.get(job_id)
            for watch in list(self.watches.get(job_id, ())):
                if state is None:  # deleted: a stream ends the way a finished job's does, without its record
                    state = JobState("deleted", watch.state.progress, "deleted")
                if (state.status, state.progress, state.stage) != (
                    watch.state.status,
                    watch.state.progress,
                    watch.state.stage,
                ):
                    watch.state = state
                    watch.changed.set()

    def _read(self, ids: list[str]) -> dict[str, JobState]:
        with self.store.sessions() as session:
            rows = session.execute(select(Job.id, Job.status, Job.progress, Job.stage).where(Job.id.in_(ids))).all()
        states: dict[str, JobState] = {}
        for job_id, status, progress, stage in rows:
            job = None
            if status in FINISHED:
                try:
                    job = self.store.get_job(job_id)
                except NotFound:
                    continue
            states[job_id] = JobState(status, progress, stage, job)
        return states
