"""The schema check, and workers on several hosts sharing one Redis queue and one database."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server, running, wait_for


def test_server_and_worker_refuse_an_out_of_date_schema(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running(home, workers=0):
        pass
    with sqlite3.connect(home / "cadenza.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0000_older'")
    env = {**os.environ, "CADENZA_HOME": str(home)}
    for command in (["serve", "--port", "1"], ["worker"]):
        result = subprocess.run(
            [sys.executable, "-m", "cadenza", *command], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode != 0
        assert "cadenza db upgrade" in result.stderr and "0000_older" in result.stderr


@pytest.fixture
def redis_url(tmp_path: Path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def test_two_worker_processes_share_a_redis_queue(tmp_path: Path, redis_url: str) -> None:
    home = tmp_path / "shared"
    env = {"CADENZA_QUEUE_URL": redis_url}
    with running(home, workers=0, env=env) as api:
        base_env = {**os.environ, "CADENZA_HOME": str(home), **env}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "cadenza", "worker"],
                env=base_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        try:
            with api.client() as client:
                ids = [
                    client.post("/api/v1/generate", json={"prompt": f"folk {i}", "duration": 5}).json()["id"]
                    for i in range(4)
                ]
                finished = [wait_for(client, job_id, ("succeeded", "failed"), timeout=180) for job_id in ids]
            assert all(job["status"] == "succeeded" and job["attempts"] == 1 for job in finished)
            with sqlite3.connect(home / "cadenza.db") as db:
                owners = {row[0].split(":")[1] for row in db.execute("SELECT worker_id FROM jobs")}
            assert owners <= {str(w.pid) for w in workers}
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(15)


__all__ = ["Server", "httpx"]
