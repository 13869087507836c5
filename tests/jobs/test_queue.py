"""The embedded queue: the jobs table itself, fed to consumer threads in memory and by polling.

Real servers and workers, killed with SIGKILL mid-job: nothing queued or running may be lost, and
nothing may run twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.api.conftest import Server, running, wait_for

HELD = {"task": "generate", "engine": "noop", "input": {"prompt": "held", "advanced": {"seconds": 30}}}
QUICK = {"task": "generate", "engine": "noop", "input": {"prompt": "quick"}}


def test_kill_9_mid_job_on_the_embedded_queue_loses_nothing(tmp_path: Path) -> None:
    """A server with one embedded worker is killed while a job runs and ten wait behind it; the next
    server finds all eleven in the record (there is no second queue database any more) and runs each
    exactly once, the interrupted one as its second attempt."""
    home = tmp_path / "home"
    env = {"CADENZA_STALE_AFTER_SECONDS": "3"}
    first = Server(home, workers=1, env=env).start()
    with first.client() as client:
        held = client.post("/api/v1/jobs", json=HELD).json()
        wait_for(client, held["id"], ("running",))
        waiting = [client.post("/api/v1/jobs", json=QUICK).json()["id"] for _ in range(10)]
        while client.get(f"/api/v1/jobs/{held['id']}").json()["progress"] < 0.05:
            time.sleep(0.05)
    first.kill()
    assert not (home / "queue.db").exists()
    with sqlite3.connect(home / "cadenza.db") as db:
        statuses = dict(db.execute("SELECT id, status FROM jobs").fetchall())
    assert statuses[held["id"]] == "running" and {statuses[i] for i in waiting} == {"queued"}

    with running(home, workers=1, env=env) as second, second.client() as client:
        resumed = wait_for(client, held["id"], ("running",), timeout=60)
        assert resumed["attempts"] == 2, resumed  # requeued after the kill and run again, not lost
        client.post(f"/api/v1/jobs/{held['id']}/cancel")  # no need to hold on for 30 s more
        assert wait_for(client, held["id"], ("cancelled",), timeout=60)["attempts"] == 2
        for job_id in waiting:
            done = wait_for(client, job_id, ("succeeded", "failed"), timeout=120)
            assert done["status"] == "succeeded" and done["attempts"] == 1, done


def test_a_standalone_worker_takes_jobs_another_process_queued(tmp_path: Path) -> None:
    """No queue URL: an API-only server records jobs, and a `cadenza worker` on the same data dir finds
    them by polling the table; killed with SIGKILL mid-job, its job goes back to the queue and a second
    worker finishes it."""
    home = tmp_path / "home"
    env = {"CADENZA_STALE_AFTER_SECONDS": "2"}
    worker_env = {**os.environ, "CADENZA_HOME": str(home), **env}
    with running(home, workers=0, env=env) as api, api.client() as client:
        quick = client.post("/api/v1/jobs", json=QUICK).json()
        first = subprocess.Popen([sys.executable, "-m", "cadenza", "worker"], env=worker_env)
        try:
            assert wait_for(client, quick["id"], ("succeeded",), timeout=60)["attempts"] == 1
            held = client.post("/api/v1/jobs", json=HELD).json()
            wait_for(client, held["id"], ("running",), timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        wait_for(client, held["id"], ("queued",), timeout=30)
        second = subprocess.Popen([sys.executable, "-m", "cadenza", "worker"], env=worker_env)
        try:
            running_again = wait_for(client, held["id"], ("running",), timeout=60)
            assert running_again["attempts"] == 2
            client.post(f"/api/v1/jobs/{held['id']}/cancel")
            assert wait_for(client, held["id"], ("cancelled",), timeout=30)["attempts"] == 2
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0  # SIGTERM stops a standalone worker cleanly
