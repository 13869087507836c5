"""Recovery does not need an embedded worker: an API-only server requeues the job of a standalone
worker that died, and a worker meets a deleted job without a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.api.conftest import running, wait_for


def start_worker(home: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cadenza", "worker"],
        env={**os.environ, "CADENZA_HOME": str(home), **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_an_api_only_server_requeues_the_job_of_a_dead_worker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"CADENZA_STALE_AFTER_SECONDS": "2"}
    with running(home, workers=0, env=env) as api, api.client() as client:
        worker = start_worker(home, env, tmp_path / "worker.log")
        try:
            job = client.post("/api/v1/generate", json={"prompt": "long ambient", "duration": 300}).json()
            wait_for(client, job["id"], ("running",), timeout=60)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        requeued = wait_for(client, job["id"], ("queued",), timeout=30)
        # with no worker left, the announcer may already say what the requeued job waits for
        assert requeued["attempts"] == 1
        assert requeued["stage"] in ("requeued", "waiting for a worker with procedural")

        deleted = client.post("/api/v1/generate", json={"engine": "noop", "prompt": "deleted before it ran"}).json()
        assert client.delete(f"/api/v1/jobs/{deleted['id']}").status_code == 204
        after = client.post("/api/v1/generate", json={"engine": "noop", "prompt": "runs after it"}).json()
        second = start_worker(home, env, tmp_path / "worker2.log")
        try:
            assert wait_for(client, after["id"], ("succeeded",), timeout=120)["attempts"] == 1
            assert client.get(f"/api/v1/jobs/{deleted['id']}").status_code == 404
            time.sleep(0.5)
        finally:
            second.terminate()
            second.wait(15)
    assert "Traceback" not in (tmp_path / "worker2.log").read_text()
