"""The huey queue. It carries job ids only; the SQL record is the truth.

Embedded: SqliteHuey beside the database, consumer threads inside `cadenza serve`. Scaled out:
RedisHuey when CADENZA_QUEUE_URL is redis://..., with `cadenza worker` on each GPU host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cadenza.config import Settings
from cadenza.jobs import worker
from cadenza.jobs.store import Store

TASK_NAME = "cadenza.run_job"


@dataclass
class JobQueue:
    huey: Any
    task: Any

    def enqueue(self, job_id: str) -> None:
        self.task(job_id)

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


def make_queue(settings: Settings) -> JobQueue:
    from huey import RedisHuey, SqliteHuey

    if settings.queue_url and settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        huey = RedisHuey("cadenza", url=settings.queue_url, results=False)
    else:
        path = settings.queue_url.removeprefix("sqlite:///") if settings.queue_url else settings.home / "queue.db"
        huey = SqliteHuey("cadenza", filename=str(path), results=False, timeout=30)
    store = Store(settings.database)

    @huey.task(name=TASK_NAME)
    def run_job(job_id: str) -> None:
        worker.run_job(settings, store, job_id)

    return JobQueue(huey, run_job)
