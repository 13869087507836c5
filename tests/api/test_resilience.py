"""What must survive: a killed server, a burst of concurrent clients, and arbitrary API input."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.conftest import Server, running, wait_for


@pytest.mark.slow
def test_a_job_survives_kill_9_of_its_server(tmp_path) -> None:
    home = tmp_path / "home"
    env = {"CADENZA_STALE_AFTER_SECONDS": "3"}
    first = Server(home, workers=1, env=env).start()
    with first.client() as client:
        job = client.post(
            "/api/v1/generate", json={"prompt": "long cinematic piece", "duration": 240, "seed": 4}
        ).json()
        deadline = time.monotonic() + 180
        while client.get(f"/api/v1/jobs/{job['id']}").json()["progress"] < 0.2:
            assert time.monotonic() < deadline, "the job never got going"
            time.sleep(0.05)
    first.kill()

    with sqlite3.connect(home / "cadenza.db") as db:
        assert db.execute("SELECT status FROM jobs WHERE id = ?", (job["id"],)).fetchone()[0] == "running"
        assert db.execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0
    assert not (home / "artifacts" / job["id"]).exists()

    with running(home, workers=1, env=env) as second, second.client() as client:
        done = wait_for(client, job["id"], ("succeeded", "failed"), timeout=300)
        assert done["status"] == "succeeded" and done["attempts"] == 2, done
        # a later attempt writes into its own folder, so a late first attempt could never clobber it
        files = sorted(p.name for p in (home / "artifacts" / job["id"] / "attempt-2").iterdir())
        assert files == sorted(a["filename"] for a in done["artifacts"])
    with sqlite3.connect(home / "cadenza.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list((home / "scratch").iterdir())


def test_a_job_whose_attempts_ran_out_ends_interrupted(tmp_path) -> None:
    home = tmp_path / "home"
    env = {"CADENZA_MAX_ATTEMPTS": "1"}
    first = Server(home, workers=1, env=env).start()
    with first.client() as client:
        job = client.post("/api/v1/generate", json={"prompt": "ambient", "duration": 240}).json()
        wait_for(client, job["id"], ("running",))
    first.kill()
    with running(home, workers=1, env=env) as second, second.client() as client:
        ended = wait_for(client, job["id"], ("failed",))
        assert ended["error"]["category"] == "interrupted"
        assert ended["artifacts"] == []


@pytest.mark.slow
def test_200_submissions_from_20_threads_run_exactly_once(tmp_path) -> None:
    with running(tmp_path / "home", workers=2) as server:

        def submit(index: int) -> str:
            with server.client() as client:
                key = {"Idempotency-Key": f"key-{index % 150}"}
                body = {"task": "generate", "engine": "noop", "input": {"prompt": f"burst {index % 150}"}}
                response = client.post("/api/v1/jobs", json=body, headers=key)
                assert response.status_code == 202, response.text
                return response.json()["id"]

        with ThreadPoolExecutor(20) as pool:
            ids = list(pool.map(submit, range(200)))
        assert len(set(ids)) == 150
        assert all(ids[i] == ids[i + 150] for i in range(50))
        with server.client() as client:
            for job_id in set(ids):
                job = wait_for(client, job_id, ("succeeded", "failed"))
                assert job["status"] == "succeeded" and job["attempts"] == 1
            stats = client.get("/api/v1/stats").json()
            assert stats["jobs_per_status"]["succeeded"] == 150


def test_cancel_a_queued_job_and_a_running_one(tmp_path) -> None:
    with running(tmp_path / "home", workers=1) as server, server.client() as client:
        running_job = client.post("/api/v1/generate", json={"prompt": "orchestral", "duration": 300}).json()
        queued_job = client.post("/api/v1/generate", json={"prompt": "queued then cancelled", "duration": 60}).json()
        wait_for(client, running_job["id"], ("running",))
        assert client.post(f"/api/v1/jobs/{queued_job['id']}/cancel").json()["status"] == "cancelled"
        client.post(f"/api/v1/jobs/{running_job['id']}/cancel")
        stopped = wait_for(client, running_job["id"], ("cancelled",), timeout=15)
        assert stopped["artifacts"] == []
        assert not (server.home / "artifacts" / running_job["id"]).exists()
        time.sleep(1.0)
        assert client.get(f"/api/v1/jobs/{queued_job['id']}").json()["attempts"] == 0
        assert client.delete(f"/api/v1/jobs/{stopped['id']}").status_code == 204
