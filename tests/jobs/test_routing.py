"""Routing on real servers: workers on Redis + PostgreSQL take only the engines they offer, and a job
for an engine no live worker offers waits, saying so, until a capable worker appears."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cadenza.jobs.store import Store
from tests.api.conftest import running, wait_for
from tests.servers import RedisServer, start_worker


def test_a_worker_takes_only_its_engines_and_a_job_waits_for_a_capable_one(
    tmp_path: Path, postgres_server, redis_server: RedisServer
) -> None:
    database = postgres_server.url(postgres_server.database())
    home = tmp_path / "home"
    env = {
        "CADENZA_HOME": str(home),
        "CADENZA_DATABASE_URL": database,
        "CADENZA_QUEUE_URL": redis_server.url(),
        "CADENZA_STALE_AFTER_SECONDS": "4",
    }
    workers: list[subprocess.Popen] = []
    with running(home, workers=0, env=env) as api, api.client() as client:
        try:
            workers.append(start_worker(env, "--engines", "noop", "--device", "cpu"))
            procedural = [
                client.post("/api/v1/generate", json={"prompt": f"folk {i}", "duration": 5}).json()["id"]
                for i in range(2)
            ]
            noop = [
                client.post("/api/v1/jobs", json={"task": "generate", "engine": "noop", "input": {}}).json()["id"]
                for _ in range(3)
            ]
            assert all(wait_for(client, j, ("succeeded", "failed"), 60)["status"] == "succeeded" for j in noop)

            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                waiting = [client.get(f"/api/v1/jobs/{j}").json() for j in procedural]
                if all(job["stage"] == "waiting for a worker with procedural" for job in waiting):
                    break
                time.sleep(0.2)
            assert all(job["status"] == "queued" for job in waiting), waiting
            assert all(job["stage"] == "waiting for a worker with procedural" for job in waiting), waiting

            listed = client.get("/api/v1/workers").json()["items"]
            assert [w["engines"] for w in listed] == [["noop"]]
            assert listed[0]["devices"][0]["name"] == "cpu" and listed[0]["devices"][0]["free_mb"] > 0
            engines = {e["name"]: e for e in client.get("/api/v1/engines").json()["engines"]}
            assert engines["noop"]["workers"] == [listed[0]["id"]] and engines["procedural"]["workers"] == []

            workers.append(start_worker(env, "--engines", "procedural", "--concurrency", "1"))
            finished = [wait_for(client, j, ("succeeded", "failed"), 120) for j in procedural]
            assert all(job["status"] == "succeeded" and job["attempts"] == 1 for job in finished), finished

            cli = subprocess.run(
                [sys.executable, "-m", "cadenza", "workers", "--json"],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert cli.returncode == 0, cli.stderr
            assert sorted(tuple(w["engines"]) for w in json.loads(cli.stdout)["items"]) == [("noop",), ("procedural",)]
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(15)

    store = Store(database)
    owner = {job_id: store.get_job(job_id).worker_id.split(":")[1] for job_id in procedural + noop}
    assert {owner[j] for j in noop} == {str(workers[0].pid)}
    assert {owner[j] for j in procedural} == {str(workers[1].pid)}


def test_a_worker_refuses_engines_it_does_not_know_or_cannot_run(tmp_path: Path) -> None:
    env = {**os.environ, "CADENZA_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-m", "cadenza", "worker", "--engines", "noop,warp-drive"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert (
        "unknown engine(s) warp-drive" in result.stdout + result.stderr
        and "procedural" in result.stdout + result.stderr
    )
