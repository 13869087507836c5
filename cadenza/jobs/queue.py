"""The huey queue. It carries job ids only; the SQL record is the truth.

Embedded: SqliteHuey beside the database, consumer threads inside `cadenza serve`. Scaled out:
CADENZA_QUEUE_URL=redis://... with one Redis list per engine (`huey.redis.cadenza.<engine>`), and
`cadenza worker --engines ...` on each host popping only the lists of the engines it offers.

Why a list per engine rather than a claim that filters by engine: huey removes a message when a worker
pops it, so a worker that pops a job it cannot run would have to push it back, and every idle worker
would spin over jobs nobody present can run. With one list per engine a worker blocks (BRPOP) on its
own engines only, a job for an absent engine waits in its list until a capable worker starts, and the
atomic claim in store.py still decides who runs a job that was queued twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from huey.storage import RedisStorage

from cadenza.config import Settings
from cadenza.errors import NotFound
from cadenza.jobs import worker
from cadenza.jobs.store import Store

TASK_NAME = "cadenza.run_job"
QUEUE_NAME = "cadenza"


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

    @property
    def routed(self) -> bool:
        return isinstance(self.huey.storage, EngineQueues)

    def enqueue(self, job_id: str, engine: str | None = None) -> None:
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


def is_redis(url: str | None) -> bool:
    return bool(url) and url.startswith(("redis://", "rediss://", "unix://"))  # type: ignore[union-attr]


def available_engines() -> list[str]:
    from cadenza.engines import registry

    return [info.name for info in registry.describe() if info.available]


def make_queue(settings: Settings, engines: Sequence[str] = ()) -> JobQueue:
    """The queue; on Redis a consumer pops only the lists of `engines` (none: this process only submits)."""
    from huey import Huey, SqliteHuey

    store = Store(settings.database)
    if is_redis(settings.queue_url):
        huey = Huey(
            QUEUE_NAME, results=False, storage_class=EngineQueues, url=settings.queue_url, engines=tuple(engines)
        )
    else:
        path = settings.queue_url.removeprefix("sqlite:///") if settings.queue_url else settings.home / "queue.db"
        huey = SqliteHuey("cadenza", filename=str(path), results=False, timeout=30)
    queue = JobQueue(huey, None, store, tuple(engines))

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
        worker.run_job(settings, store, job_id)

    queue.task = run_job
    return queue
