"""The queue. It carries job ids only; the SQL record is the truth.

Embedded (the default): the jobs table itself is the queue (`SqlFeed`). A submission hands its id to
this process's consumer threads in memory, and consumers poll the table for queued jobs other
processes submitted or recovery requeued; the atomic claim in store.py decides who runs a job. This
replaced huey's SqliteHuey, a second SQLite database written twice per job. `CADENZA_QUEUE_URL=
sqlite:///path` still selects SqliteHuey. Scaled out:
CADENZA_QUEUE_URL=redis://... with one Redis list per engine (`huey.redis.cadenza.<engine>`), and
`cadenza worker --engines ...` on each host popping only the lists of the engines it offers.

Why a list per engine rather than a claim that filters by engine: huey removes a message when a worker
pops it, so a worker that pops a job it cannot run would have to push it back, and every idle worker
would spin over jobs nobody present can run. With one list per engine a worker blocks (BRPOP) on its
own engines only, a job for an absent engine waits in its list until a capable worker starts, and the
atomic claim in store.py still decides who runs a job that was queued twice.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from huey.storage import RedisStorage

from cadenza.config import Settings
from cadenza.errors import NotFound
from cadenza.jobs import worker
from cadenza.jobs.routing import is_routed
from cadenza.jobs.store import Store

TASK_NAME = "cadenza.run_job"
QUEUE_NAME = "cadenza"
POLL_SECONDS = 0.1  # how soon an idle consumer sees a job another process queued

log = logging.getLogger("cadenza.queue")


class SqlFeed:
    """Job ids for this process's consumers: pushed by submissions here, polled from the record otherwise.

    An id may arrive twice (pushed and polled, or re-enqueued by recovery): harmless, since only one
    claim of a queued job succeeds. The table is read only while no pushed id is waiting, at most once
    per POLL_SECONDS, by one consumer at a time.
    """

    def __init__(self, store: Store, poll_seconds: float = POLL_SECONDS) -> None:
        self.store, self.poll_seconds = store, poll_seconds
        self.ids: deque[str] = deque()
        self.waiting: set[str] = set()
        self.ready = threading.Condition()
        self.next_poll = 0.0
        self.polling = False

    def push(self, job_id: str) -> None:
        with self.ready:
            if job_id not in self.waiting:
                self.waiting.add(job_id)
                self.ids.append(job_id)
                self.ready.notify()

    def take(self, stopped: threading.Event) -> str | None:
        """The next job id, or None once `stopped` is set."""
        with self.ready:
            while not stopped.is_set():
                if self.ids:
                    job_id = self.ids.popleft()
                    self.waiting.discard(job_id)
                    return job_id
                now = time.monotonic()
                if now >= self.next_poll and not self.polling:
                    self.polling, self.next_poll = True, now + self.poll_seconds
                    self.ready.release()
                    try:
                        found = self._queued()
                    finally:
                        self.ready.acquire()
                        self.polling = False
                    for job_id in found:
                        if job_id not in self.waiting:
                            self.waiting.add(job_id)
                            self.ids.append(job_id)
                    continue
                self.ready.wait(max(0.001, self.next_poll - now))
        return None

    def _queued(self) -> list[str]:
        try:
            return self.store.queued_ids()
        except Exception:  # a database hiccup: the next poll retries
            log.exception("reading queued jobs failed")
            return []

    def wake_all(self) -> None:
        with self.ready:
            self.ready.notify_all()


class LocalConsumer:
    """`workers` threads taking ids from a SqlFeed and running their jobs."""

    def __init__(self, feed: SqlFeed, settings: Settings, store: Store, workers: int) -> None:
        self.feed, self.settings, self.store = feed, settings, store
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(target=self._work, name=f"cadenza-worker-{n}", daemon=True) for n in range(workers)
        ]

    def _work(self) -> None:
        while (job_id := self.feed.take(self.stopped)) is not None:
            try:
                worker.run_job(self.settings, self.store, job_id, report=False)
            except Exception:  # run_job records every engine failure; this is the record itself failing
                log.exception("running job %s failed", job_id)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, graceful: bool = False) -> None:
        """Take no more jobs; with `graceful`, wait for the running ones (else recovery requeues them)."""
        self.stopped.set()
        self.feed.wake_all()
        if graceful:
            for thread in self.threads:
                thread.join()

    def run(self) -> None:
        """`cadenza worker`: run until SIGTERM (stop now) or SIGINT (finish the running jobs first)."""
        terminated = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: terminated.set())
        self.start()
        try:
            while not terminated.wait(0.5):
                pass
            self.stop(graceful=False)
        except KeyboardInterrupt:
            self.stop(graceful=True)


def engine_key(engine: str) -> str:
    return f"huey.redis.{QUEUE_NAME}.{engine}"


class EngineQueues(RedisStorage):
    """huey's Redis storage over one list per engine; this process pops only `engines`' lists."""

    def __init__(self, name: str = QUEUE_NAME, engines: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.keys = [engine_key(engine) for engine in engines]

    def push(self, engine: str, data: bytes) -> None:
        self.conn.lpush(engine_key(engine), data)

    def enqueue(self, data: bytes, priority: Any = None) -> None:
        raise RuntimeError("routed queue: enqueue through JobQueue.enqueue, which knows the job's engine")

    def dequeue(self) -> bytes | None:
        if not self.keys:  # a worker offering nothing: behave like an empty queue
            time.sleep(self.read_timeout)
            return None
        try:
            popped = self.conn.brpop(self.keys, timeout=self.read_timeout)
        except (TimeoutError, TypeError, IndexError):
            return None
        return popped[1] if popped else None

    def queue_size(self) -> int:
        return sum(self.conn.llen(key) for key in self.keys)

    def depth(self, engine: str) -> int:
        return int(self.conn.llen(engine_key(engine)))

    def flush_queue(self) -> None:
        if self.keys:
            self.conn.delete(*self.keys)


@dataclass
class JobQueue:
    huey: Any
    task: Any
    store: Store | None = None
    engines: tuple[str, ...] = field(default_factory=tuple)
    feed: SqlFeed | None = None
    settings: Settings | None = None

    @property
    def routed(self) -> bool:
        return self.huey is not None and isinstance(self.huey.storage, EngineQueues)

    def enqueue(self, job_id: str, engine: str | None = None) -> None:
        if self.feed is not None:
            self.feed.push(job_id)
            return
        if not self.routed:
            self.task(job_id)
            return
        if engine is None:
            assert self.store is not None
            engine = self.store.get_job(job_id).engine
        self.huey.storage.push(engine, self.huey.serialize_task(self.task.s(job_id)))

    def depth(self, engine: str) -> int | None:
        """Messages waiting for `engine` (routed queues only; the embedded queue is one list)."""
        return self.huey.storage.depth(engine) if self.routed else None

    def consumer(self, workers: int, embedded: bool) -> Any:
        """A consumer with `workers` threads; an embedded one leaves signal handling to its host."""
        if self.feed is not None:
            assert self.settings is not None and self.store is not None
            return LocalConsumer(self.feed, self.settings, self.store, workers)
        from huey.consumer import Consumer

        class EmbeddedConsumer(Consumer):
            def _set_signal_handlers(self) -> None:  # uvicorn owns SIGINT/SIGTERM in `cadenza serve`
                pass

        kind = EmbeddedConsumer if embedded else Consumer
        # Poll an empty queue every 20 ms (not huey's default back-off to 10 s) so a job starts promptly.
        return kind(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.01,
            backoff=1.0,
            max_delay=0.02,
            check_worker_health=False,
        )


def available_engines() -> list[str]:
    from cadenza.engines import registry

    return [info.name for info in registry.describe() if info.available]


def make_queue(settings: Settings, engines: Sequence[str] = ()) -> JobQueue:
    """The queue; on Redis a consumer pops only the lists of `engines` (none: this process only submits)."""
    store = Store(settings.database)
    if not settings.queue_url:
        return JobQueue(None, None, store, tuple(engines), feed=SqlFeed(store), settings=settings)
    from huey import Huey, SqliteHuey

    if is_routed(settings):
        huey = Huey(
            QUEUE_NAME, results=False, storage_class=EngineQueues, url=settings.queue_url, engines=tuple(engines)
        )
    else:
        path = settings.queue_url.removeprefix("sqlite:///")
        huey = SqliteHuey("cadenza", filename=str(path), results=False, timeout=30)
    queue = JobQueue(huey, None, store, tuple(engines), settings=settings)

    @huey.task(name=TASK_NAME)
    def run_job(job_id: str) -> None:
        if queue.routed:
            try:
                engine = store.get_job(job_id).engine
            except NotFound:  # deleted while queued
                return
            if engine not in queue.engines:  # cannot happen through the lists; never run what we lack
                queue.enqueue(job_id, engine)
                return
        worker.run_job(settings, store, job_id, report=False)

    queue.task = run_job
    return queue
