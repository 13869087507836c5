"""The job service's own overhead, with the no-op engine, on SQLite: submit-to-start latency, jobs per
second end to end, GET /api/v1/jobs/{id} at 50 closed-loop clients against a minimal FastAPI app in the
same run, and the p99 of other requests while 500 event streams are open on running jobs."""

from __future__ import annotations

import asyncio
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
from benchmarks.http_load import closed_loop, minimal_app_source, summary

BURST = 500
CLIENTS = 50
READ_SECONDS = 5.0
STREAMS = 500


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "CADENZA_HOME": str(home),
        "CADENZA_MAX_QUEUE_DEPTH": "100000",
        "CADENZA_MAX_EVENT_STREAMS": str(4 * STREAMS),
        "CADENZA_MAX_EVENT_STREAMS_PER_CLIENT": str(4 * STREAMS),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return wait_up(process, f"http://127.0.0.1:{port}/health", "the server")


def wait_up(process: subprocess.Popen, url: str, what: str) -> subprocess.Popen:
    """`process` once `url` answers 200 (about 30 s at most; killed and an error otherwise)."""
    for _ in range(300):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{what} did not start")


def seconds_between(job: dict) -> float:
    return (datetime.fromisoformat(job["started_at"]) - datetime.fromisoformat(job["created_at"])).total_seconds()


def wait_all_done(client: httpx.Client, expected: int) -> None:
    while client.get("/api/v1/stats").json()["jobs_per_status"]["succeeded"] < expected:
        time.sleep(0.02)


def start_minimal_app(home: Path, port: int, document: dict) -> subprocess.Popen:
    """The peer: a minimal FastAPI app under the same uvicorn, answering a job-sized document."""
    (home / "minimal_app.py").write_text(minimal_app_source(document))
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "minimal_app:app", "--port", str(port), "--log-level", "warning"],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return wait_up(process, f"http://127.0.0.1:{port}/api/v1/jobs/x", "the minimal app")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reads(base: str, paths: list[str], clients: int, seconds: float = READ_SECONDS) -> dict[str, float]:
    latencies, errors = asyncio.run(closed_loop(base, paths, clients, seconds))
    if errors:
        raise RuntimeError(f"{errors} reads of {base} failed")
    return summary(latencies, seconds)


def events_effect(client: httpx.Client, base: str, paths: list[str]) -> dict[str, float]:
    """p99 of GET /api/v1/jobs/{id} at 10 clients, before and while STREAMS event streams are open on
    two running jobs (each reporting progress ten times a second)."""
    body = {"task": "generate", "engine": "noop", "input": {"prompt": "held", "advanced": {"seconds": 120}}}
    held = [client.post("/api/v1/jobs", json=body).json()["id"] for _ in range(2)]
    for job_id in held:
        while client.get(f"/api/v1/jobs/{job_id}").json()["status"] != "running":
            time.sleep(0.05)
    quiet = reads(base, paths, 10)

    listener = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.http_load", "streams", base, str(READ_SECONDS + 2), str(STREAMS)]
        + [f"/api/v1/jobs/{job_id}/events" for job_id in held],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    opened = int(listener.stdout.readline().split()[1])
    time.sleep(1.0)
    latencies, _ = asyncio.run(closed_loop(base, paths, 10, READ_SECONDS))
    tally = json.loads(listener.stdout.readline())
    listener.wait(30)
    rate = tally["events"] / (READ_SECONDS + 2)
    for job_id in held:
        client.post(f"/api/v1/jobs/{job_id}/cancel")
    busy = summary(latencies, READ_SECONDS)
    return {
        "quiet_p99_ms": quiet["p99_ms"],
        "streams_p99_ms": busy["p99_ms"],
        "quiet_rps": quiet["requests_per_second"],
        "streams_rps": busy["requests_per_second"],
        "streams_open": opened,
        "stream_events_per_second": rate,
    }


def rate_and_latency(reads: dict[str, float]) -> str:
    return f"{reads['requests_per_second']:.0f} /s, {reads['p50_ms']:.1f} / {reads['p99_ms']:.1f} ms"


def main() -> dict[str, float]:
    port, peer_port = free_port(), free_port()
    home = Path(tempfile.mkdtemp(prefix="cadenza-bench-service-"))
    load = os.getloadavg()[0]
    process = start_server(home, port)
    peer = None
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
            document = client.get(f"/api/v1/jobs/{ids[0]}").json()

            # 3. GET /api/v1/jobs/{id} at 50 closed-loop clients, and the minimal FastAPI app alike.
            paths = [f"/api/v1/jobs/{job_id}" for job_id in ids]
            cadenza_reads = reads(base, paths, CLIENTS)
            peer = start_minimal_app(home, peer_port, document)
            peer_reads = reads(f"http://127.0.0.1:{peer_port}", paths, CLIENTS)

            # 4. Other requests while STREAMS event streams are open on running jobs.
            events = events_effect(client, base, paths)
    finally:
        for server in (process, peer):
            if server is not None:
                server.terminate()
                server.wait(15)
        shutil.rmtree(home, ignore_errors=True)

    figures = {
        "submit_to_start_p50_ms": median(latencies) * 1000,
        "submit_to_start_p99_ms": percentile(latencies, 99) * 1000,
        "jobs_per_second": BURST / elapsed,
        "submissions_per_second": BURST / submitted,
        "get_p50_ms": cadenza_reads["p50_ms"],
        "get_p99_ms": cadenza_reads["p99_ms"],
        "get_requests_per_second": cadenza_reads["requests_per_second"],
        "peer_requests_per_second": peer_reads["requests_per_second"],
        "peer_p50_ms": peer_reads["p50_ms"],
        "peer_p99_ms": peer_reads["p99_ms"],
        "get_share_of_peer": cadenza_reads["requests_per_second"] / peer_reads["requests_per_second"],
        **{f"events_{name}": value for name, value in events.items()},
        "events_p99_ratio": events["streams_p99_ms"] / events["quiet_p99_ms"],
        "load_average": load,
    }
    latency = f"{figures['submit_to_start_p50_ms']:.0f} / {figures['submit_to_start_p99_ms']:.0f} ms"
    share = figures["get_share_of_peer"]
    rows = [
        ("submit-to-start latency, p50 / p99 (50 jobs, idle server)", latency, ""),
        (
            f"end-to-end throughput ({BURST} jobs from 8 threads, until all succeeded)",
            f"{figures['jobs_per_second']:.0f} jobs/s",
            ">= 300 jobs/s",
        ),
        ("submissions accepted per second (same burst)", f"{figures['submissions_per_second']:.0f} /s", ""),
        (
            f"`GET /api/v1/jobs/{{id}}` at {CLIENTS} closed-loop clients: requests/s, p50 / p99",
            rate_and_latency(cadenza_reads),
            "",
        ),
        (
            "minimal FastAPI app, same route shape and load: requests/s, p50 / p99",
            rate_and_latency(peer_reads),
            "",
        ),
        ("Cadenza's read rate as a share of the minimal app's", f"{share:.0%}", ">= 60%"),
        (
            f"`GET` p99 at 10 clients: quiet / with {int(events['streams_open'])} event streams open on 2 running jobs",
            f"{events['quiet_p99_ms']:.1f} / {events['streams_p99_ms']:.1f} ms ({figures['events_p99_ratio']:.2f}x)",
            "< 2x",
        ),
        ("events delivered per second to those streams", f"{events['stream_events_per_second']:.0f} /s", ""),
    ]
    write_section(
        "Job service overhead (no-op engine, SQLite)",
        "\n".join(
            [
                f"Machine: {machine()}; load average {load:.1f} when the run began (other work shares the "
                "two cores, so the ratios against the peer measured in the same run are what count).",
                "`cadenza serve --workers 2` on loopback, the embedded default (SQLite record and in-process "
                "queue); one asyncio load generator on the same cores. Command: `python -m benchmarks.service`.",
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
