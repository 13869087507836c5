"""Scale-out throughput: no-op and short procedural jobs per second with 1, 2 and 4 workers on Redis +
PostgreSQL (separate `cadenza worker` processes) against the embedded SQLite default (worker threads
inside `cadenza serve`), in one run; and the time from a worker's kill -9 to its job running elsewhere.

python -m benchmarks.scaleout
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.common import machine, write_section
from tests.servers import PostgresServer, RedisServer, free_port

NOOP_JOBS = 200
PROCEDURAL_JOBS = 8
WORKER_COUNTS = (1, 2, 4)
STALE_AFTER = 3.0


class Deployment:
    """An API and `workers` workers: embedded threads on SQLite, or worker processes on Redis + PostgreSQL."""

    def __init__(self, home: Path, workers: int, env: dict[str, str] | None) -> None:
        self.env = {
            **os.environ,
            "CADENZA_HOME": str(home),
            "CADENZA_MAX_QUEUE_DEPTH": "100000",
            "CADENZA_STALE_AFTER_SECONDS": str(STALE_AFTER),
            **(env or {}),
        }
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        embedded = workers if env is None else 0
        self.api = self._start(["serve", "--no-ui", "--port", str(self.port), "--workers", str(embedded)])
        self.workers = [self._start(["worker", "--engines", "noop,procedural"]) for _ in range(workers if env else 0)]
        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.client = httpx.Client(base_url=self.url, timeout=60)
        if self.workers:  # wait until every worker has announced itself
            while len(self.client.get("/api/v1/workers").json()["items"]) < len(self.workers):
                time.sleep(0.1)

    def _start(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "cadenza", *args], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def submit(self, body: dict) -> str:
        return self.client.post("/api/v1/jobs", json=body).json()["id"]

    def succeeded(self) -> int:
        return self.client.get("/api/v1/stats").json()["jobs_per_status"]["succeeded"]

    def jobs_per_second(self, body: dict, count: int) -> float:
        before = self.succeeded()
        began = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: self.submit(body), range(count)))
        while self.succeeded() < before + count:
            time.sleep(0.02)
        return count / (time.perf_counter() - began)

    def stop(self) -> None:
        self.client.close()
        for process in [*self.workers, self.api]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.api]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


NOOP = {"task": "generate", "engine": "noop", "input": {}}
PROCEDURAL = {"task": "generate", "input": {"prompt": "short folk", "duration": 5}}


def failover_seconds(deployment: Deployment) -> float:
    """kill -9 the worker running a job; seconds until the job runs on another worker."""
    job_id = deployment.submit({"task": "generate", "input": {"prompt": "long ballad", "duration": 120}})
    while (job := deployment.client.get(f"/api/v1/jobs/{job_id}").json())["status"] != "running":
        time.sleep(0.02)
    from cadenza.jobs.store import Store

    store = Store(deployment.env["CADENZA_DATABASE_URL"])
    pid = int(store.get_job(job_id).worker_id.split(":")[1])
    os.kill(pid, signal.SIGKILL)
    killed = time.perf_counter()
    while not (
        (job := deployment.client.get(f"/api/v1/jobs/{job_id}").json())["status"] == "running" and job["attempts"] == 2
    ):
        time.sleep(0.02)
    return time.perf_counter() - killed


def load_average() -> str:
    """`uptime`'s 1, 5 and 15 minute load averages."""
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> dict:
    load_before = load_average()
    began = time.perf_counter()
    postgres, redis = PostgresServer().start(), RedisServer().start()
    rows, figures = [], {}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for backend in ("sqlite", "redis+postgresql"):
                for workers in WORKER_COUNTS:
                    env = None
                    if backend != "sqlite":
                        env = {
                            "CADENZA_DATABASE_URL": postgres.url(postgres.database()),
                            "CADENZA_QUEUE_URL": redis.url(),
                        }
                        redis_flush(redis)
                    deployment = Deployment(Path(scratch) / f"{backend}-{workers}", workers, env)
                    try:
                        noop = deployment.jobs_per_second(NOOP, NOOP_JOBS)
                        procedural = deployment.jobs_per_second(PROCEDURAL, PROCEDURAL_JOBS)
                        failover = failover_seconds(deployment) if env and workers >= 2 else None
                    finally:
                        deployment.stop()
                    figures[f"{backend}/{workers}"] = {
                        "noop_per_s": noop,
                        "procedural_per_s": procedural,
                        "failover_s": failover,
                    }
                    peer = figures.get(f"sqlite/{workers}", figures[f"{backend}/{workers}"])
                    rows.append(
                        f"| {backend} | {workers} | {noop:.1f} ({noop / peer['noop_per_s']:.2f}x) | "
                        f"{procedural:.2f} ({procedural / peer['procedural_per_s']:.2f}x) | "
                        + (f"{failover:.1f}" if failover is not None else "-")
                        + " |"
                    )
    finally:
        redis.stop()
        postgres.stop()
    body = f"""`python -m benchmarks.scaleout` (part of `make bench`) on {machine()}.

{NOOP_JOBS} no-op jobs and {PROCEDURAL_JOBS} five-second procedural songs submitted at once through the API
(8 client threads), timed until all succeeded. SQLite: worker threads inside `cadenza serve`; Redis +
PostgreSQL: `cadenza worker` processes (API with no embedded workers), every server local. Failover: a
worker running a job is killed with kill -9 and the time until the job runs on another worker is
measured (heartbeat threshold {STALE_AFTER:g} s, reaper checks every half of it). In brackets: the
figure against the embedded SQLite default with as many workers, measured in the same run.

Load average (1, 5, 15 min, as `uptime` prints it) at the start: {load_before}; at the end: {load_average()};
the run took {time.perf_counter() - began:.0f} s. Where the load is well above the 2 cores, the absolute figures
are noise-dominated and the ratios against SQLite in the same run are what count.

| backend | workers | no-op jobs/s (vs SQLite) | procedural jobs/s (vs SQLite) | kill -9 to running elsewhere (s) |
|---|---|---|---|---|
""" + "\n".join(rows)
    write_section("Scale-out", body)
    return figures


def redis_flush(redis: RedisServer) -> None:
    import redis as client

    client.Redis.from_url(redis.url()).flushall()


if __name__ == "__main__":
    print(main())
