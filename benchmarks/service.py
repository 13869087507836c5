"""The job service's own overhead, with the no-op engine, on SQLite: submit-to-start latency, jobs per
second end to end, and GET /api/v1/jobs/{id} latency under 50 concurrent clients."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

from benchmarks.common import machine, median, percentile, write_section

BURST = 500
CLIENTS = 50
REQUESTS_PER_CLIENT = 40


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CADENZA_HOME": str(home), "CADENZA_MAX_QUEUE_DEPTH": "100000"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def seconds_between(job: dict) -> float:
    return (datetime.fromisoformat(job["started_at"]) - datetime.fromisoformat(job["created_at"])).total_seconds()


def wait_all_done(client: httpx.Client, expected: int) -> None:
    while client.get("/api/v1/stats").json()["jobs_per_status"]["succeeded"] < expected:
        time.sleep(0.02)


def wrk_latency(url: str) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests per second) from wrk's latency distribution."""
    out = subprocess.run(["wrk", "-t2", "-c50", "-d10s", "--latency", url], capture_output=True, text=True).stdout

    def ms(text: str) -> float:
        value = float(text.rstrip("usm"))
        return (
            value / 1000
            if text.endswith("us")
            else value * 1000
            if text.endswith("s") and not text.endswith("ms")
            else value
        )

    found = dict(line.split()[:2] for line in out.splitlines() if line.strip().startswith(("50%", "99%")))
    rate = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec"))
    return ms(found["50%"]), ms(found["99%"]), rate


def main() -> dict[str, float]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = Path(tempfile.mkdtemp(prefix="cadenza-bench-service-"))
    process = start_server(home, port)
    base = f"http://127.0.0.1:{port}"
    body = {"task": "generate", "engine": "noop", "input": {"prompt": "bench"}}
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            # 1. Submit-to-start latency, one job at a time on an idle server.
            latencies = []
            for _ in range(50):
                job = client.post("/api/v1/jobs", json=body).json()
                while (job := client.get(f"/api/v1/jobs/{job['id']}").json())["status"] != "succeeded":
                    time.sleep(0.005)
                latencies.append(seconds_between(job))
            done_before = 50

            # 2. End-to-end throughput: a burst from 8 threads, until every job has succeeded.
            local = threading.local()

            def submit(_: int) -> str:
                if not hasattr(local, "client"):
                    local.client = httpx.Client(base_url=base, timeout=30)
                return local.client.post("/api/v1/jobs", json=body).json()["id"]

            start = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                ids = list(pool.map(submit, range(BURST)))
            submitted = time.perf_counter() - start
            wait_all_done(client, done_before + BURST)
            elapsed = time.perf_counter() - start

        # 3. GET /api/v1/jobs/{id} under 50 concurrent clients: wrk (C, so the load generator takes
        # little of the two cores) when installed, else Python clients.
        wrk = wrk_latency(f"{base}/api/v1/jobs/{ids[0]}") if shutil.which("wrk") else None

        def reader(index: int) -> list[float]:
            times = []
            with httpx.Client(base_url=base, timeout=30) as own:
                for n in range(REQUESTS_PER_CLIENT):
                    begin = time.perf_counter()
                    assert (
                        own.get(f"/api/v1/jobs/{ids[(index * REQUESTS_PER_CLIENT + n) % len(ids)]}").status_code == 200
                    )
                    times.append(time.perf_counter() - begin)
            return times

        with ThreadPoolExecutor(CLIENTS) as pool:
            reads = [t for chunk in pool.map(reader, range(CLIENTS)) for t in chunk]
    finally:
        process.terminate()
        process.wait(15)
        shutil.rmtree(home, ignore_errors=True)

    if wrk is not None:
        reads_p50, reads_p99, capacity, tool = wrk[0], wrk[1], wrk[2], "wrk -t2 -c50 -d10s"
    else:
        reads_p50, reads_p99 = median(reads) * 1000, percentile(reads, 99) * 1000
        capacity, tool = len(reads) / max(sum(reads) / CLIENTS, 1e-9), f"{CLIENTS} Python clients"
    figures = {
        "submit_to_start_p50_ms": median(latencies) * 1000,
        "submit_to_start_p99_ms": percentile(latencies, 99) * 1000,
        "jobs_per_second": BURST / elapsed,
        "submissions_per_second": BURST / submitted,
        "get_p50_ms": reads_p50,
        "get_p99_ms": reads_p99,
        "get_requests_per_second": capacity,
    }
    latency = f"{figures['submit_to_start_p50_ms']:.0f} / {figures['submit_to_start_p99_ms']:.0f} ms"
    rows = [
        ("submit-to-start latency, p50 / p99 (50 jobs, idle server)", latency, ""),
        (
            f"end-to-end throughput ({BURST} jobs from 8 threads, until all succeeded)",
            f"{figures['jobs_per_second']:.0f} jobs/s",
            "200 jobs/s",
        ),
        ("submissions accepted per second (same burst)", f"{figures['submissions_per_second']:.0f} /s", ""),
        (
            f"`GET /api/v1/jobs/{{id}}` p50 / p99, {CLIENTS} closed-loop clients ({tool})",
            f"{reads_p50:.1f} / {reads_p99:.1f} ms",
            "p99 < 20 ms",
        ),
        ("`GET /api/v1/jobs/{id}` requests served per second at that load", f"{capacity:.0f} /s", ""),
    ]
    write_section(
        "Job service overhead (no-op engine, SQLite)",
        "\n".join(
            [
                f"Machine: {machine()}. `cadenza serve --workers 2` on loopback; the load generator shares the "
                "same two cores.",
                "",
                "| measure | value | target |",
                "|---|---:|---:|",
                *(f"| {name} | {value} | {target} |" for name, value, target in rows),
                "",
                "Closed-loop clients send their next request as soon as the last one answers, so latency is the",
                "number of clients divided by the requests the server completes per second.",
            ]
        ),
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
