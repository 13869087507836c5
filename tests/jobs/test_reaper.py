"""The reaper recovers jobs whose worker stopped beating, but never a job of its own, live process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cadenza.config import Settings
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.recovery import process_prefix, reap_stale
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store


def test_a_late_heartbeat_of_this_process_is_not_a_lost_worker(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", stale_after_seconds=3)
    settings.home.mkdir()
    ensure_schema(settings.database)
    service = JobService(settings, Store(settings.database))
    ours = service.submit(task="generate", engine="noop", input={"prompt": "a"}, enqueue=False)
    theirs = service.submit(task="generate", engine="noop", input={"prompt": "b"}, enqueue=False)
    assert service.store.claim(ours.id, f"{process_prefix()}aaaa0000")
    assert service.store.claim(theirs.id, "other-host:4242:bbbb1111")
    with sqlite3.connect(settings.home / "cadenza.db") as db:  # both stopped beating a minute ago
        db.execute("UPDATE jobs SET heartbeat_at = datetime('now', '-60 seconds')")

    requeued: list[str] = []
    reap_stale(settings, service.store, requeued.append)

    assert requeued == [theirs.id]
    assert service.get(theirs.id).status == "queued"
    assert service.get(ours.id).status == "running"
