"""The reaper recovers jobs whose worker stopped beating, but never a job of its own, live process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from cadenza.config import Settings
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.models import Job, utcnow
from cadenza.jobs.recovery import process_prefix, reap_stale
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store


def test_a_late_heartbeat_of_this_process_is_not_a_lost_worker(tmp_path: Path, database_url: str | None) -> None:
    settings = Settings(home=tmp_path / "home", stale_after_seconds=3, database_url=database_url)
    settings.home.mkdir()
    ensure_schema(settings.database)
    service = JobService(settings, Store(settings.database))
    ours = service.submit(task="generate", engine="noop", input={"prompt": "a"}, enqueue=False)
    theirs = service.submit(task="generate", engine="noop", input={"prompt": "b"}, enqueue=False)
    assert service.store.claim(ours.id, f"{process_prefix()}aaaa0000")
    assert service.store.claim(theirs.id, "other-host:4242:bbbb1111")
    with service.store.sessions.begin() as session:  # both stopped beating a minute ago
        session.execute(update(Job).values(heartbeat_at=utcnow() - timedelta(seconds=60)))

    requeued: list[str] = []
    reap_stale(settings, service.store, requeued.append)

    assert requeued == [theirs.id]
    assert service.get(theirs.id).status == "queued"
    assert service.get(ours.id).status == "running"
