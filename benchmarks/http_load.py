"""A light closed-loop HTTP load generator (asyncio streams, keep-alive, HTTP/1.1), a minimal FastAPI app
to compare the API with, and idle SSE listeners. One process drives every connection, so the load
generator takes little of the two cores (no wrk here), and it is the same for Cadenza and its peer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from urllib.parse import urlsplit

# The peer: the least a FastAPI app can do for `GET /api/v1/jobs/{id}`, answering a job-sized document.
MINIMAL_APP = """
from fastapi import FastAPI

app = FastAPI()
JOB = {doc}


@app.get("/api/v1/jobs/{{job_id}}")
def get_job(job_id: str) -> dict:
    return {{**JOB, "id": job_id}}
"""


def minimal_app_source(document: dict) -> str:
    return MINIMAL_APP.format(doc=repr(document))


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def closed_loop(url: str, paths: list[str], clients: int, seconds: float) -> tuple[list[float], int]:
    """`clients` connections each sending its next request when the last is answered, for `seconds`;
    returns every latency (s) and the count of non-200 answers."""
    parts = urlsplit(url)
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + seconds

    async def client(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        n = index
        try:
            while time.perf_counter() < end:
                begin = time.perf_counter()
                if await _request(reader, writer, parts.netloc, paths[n % len(paths)]) != 200:
                    errors += 1
                latencies.append(time.perf_counter() - begin)
                n += clients
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, errors


async def hold_streams(url: str, paths: list[str], count: int, seconds: float) -> dict[str, int]:
    """`count` SSE connections read for `seconds` after all have opened; prints `open` once they have.
    Returns how many opened and the events received after that. Run it in its own process
    (`python -m benchmarks.http_load streams ...`), so reading the streams does not delay the client
    that measures latency."""
    parts = urlsplit(url)
    tally = {"open": 0, "events": 0}
    all_open = asyncio.Event()

    async def stream(path: str) -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=1 << 20)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        tally["open"] += 1
        if tally["open"] == count:
            all_open.set()
        try:
            while chunk := await reader.read(65536):
                if all_open.is_set():
                    tally["events"] += chunk.count(b"event:")
        finally:
            writer.close()

    tasks = [asyncio.create_task(stream(paths[i % len(paths)])) for i in range(count)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_open.wait(), 120)
    print("open", tally["open"], flush=True)
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return tally


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000 if ordered else float("nan")

    return {"requests_per_second": len(latencies) / seconds, "p50_ms": at(50), "p99_ms": at(99)}


if __name__ == "__main__":  # python -m benchmarks.http_load streams URL SECONDS COUNT PATH...
    import sys

    if sys.argv[1] == "streams":
        result = asyncio.run(hold_streams(sys.argv[2], sys.argv[5:], int(sys.argv[4]), float(sys.argv[3])))
        print(json.dumps(result), flush=True)
    else:  # python -m benchmarks.http_load URL PATH: a quick check of one route
        lat, bad = asyncio.run(closed_loop(sys.argv[1], [sys.argv[2]], 50, 3.0))
        print(json.dumps(summary(lat, 3.0) | {"errors": bad}))
