"""The comfyui engine's own overhead per job, against the stand-in ComfyUI server (tests/engines/comfyui):
submit to the server's first message and the server's last message to the stored artifact, against a
bare client (POST /prompt, wait on /ws, GET /history and /view, nothing else) measured in the same run;
and the longest silence a job's progress shows while the server itself is silent (a long VAE decode).

    PYTHONPATH=. python -m benchmarks.comfyui
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import machine, median, percentile, write_section

JOBS = 12
SHAPE = {"prompt": "benchmark", "width": 256, "height": 160, "frames": 17, "fps": 12}
LONG_STEPS, LONG_STEP_SECONDS, LONG_SILENCE = 40, 0.5, 20.0


def studio(home: Path):
    from cadenza.config import Settings
    from cadenza.jobs.db import ensure_schema
    from cadenza.jobs.service import JobService
    from cadenza.jobs.store import Store

    settings = Settings(home=home)
    home.mkdir(parents=True, exist_ok=True)
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


def engine_job(jobs, fields: dict) -> dict[str, float]:
    """One job through the service and worker: wall time, submit -> first server message, last server
    message -> stored artifact, and the largest gap between progress reports."""
    from cadenza.jobs.worker import run_job

    marks: list[tuple[float, str]] = []
    start = time.perf_counter()
    job = jobs.submit(task="t2v", engine="comfyui", input=fields, enqueue=False)
    done = run_job(jobs.settings, jobs.store, job.id, listener=lambda f, s: marks.append((time.perf_counter(), s)))
    end = time.perf_counter()
    assert done.status == "succeeded", done.error_message
    first = next(t for t, stage in marks if stage == "started")
    last = next(t for t, stage in marks if stage == "outputs")
    times = [start] + [t for t, _ in marks] + [end]
    return {
        "wall": end - start,
        "to_first": first - start,
        "after_last": end - last,
        "max_gap": max(b - a for a, b in itertools.pairwise(times)),
    }


def bare_client(url: str, graph: dict) -> float:
    """The least a client can do for one prompt: submit, wait for success on the socket, read history,
    download the file."""
    import httpx
    from websockets.sync.client import connect

    client_id = uuid.uuid4().hex
    start = time.perf_counter()
    with connect(f"{url.replace('http', 'ws')}/ws?clientId={client_id}") as socket, httpx.Client(base_url=url) as http:
        prompt_id = http.post("/prompt", json={"prompt": graph, "client_id": client_id}).json()["prompt_id"]
        while True:
            message = json.loads(socket.recv())
            if message["type"] == "execution_success" and message["data"]["prompt_id"] == prompt_id:
                break
        outputs = http.get(f"/history/{prompt_id}").json()[prompt_id]["outputs"]
        item = next(iter(outputs.values()))["images"][0]
        http.get("/view", params=item).raise_for_status()
    return time.perf_counter() - start


def main() -> dict[str, float]:
    from cadenza.engines.comfyui.library import shipped
    from tests.engines.comfyui.standin import Running, StandIn

    home = Path(tempfile.mkdtemp(prefix="cadenza-bench-comfyui-"))
    os.environ["CADENZA_HOME"] = str(home)
    standin = StandIn()
    with Running(standin) as server:
        os.environ["CADENZA_COMFYUI_URL"] = server.url
        jobs = studio(home)
        engine_job(jobs, SHAPE)  # warm: imports, first connection
        runs = [engine_job(jobs, SHAPE) for _ in range(JOBS)]
        graph = shipped("t2v").patched({"prompt": "benchmark", "width": 256, "height": 160, "frames": 17, "fps": 12.0})
        bare_client(server.url, graph)
        bare = [bare_client(server.url, graph) for _ in range(JOBS)]

        standin.behaviour.step_seconds = LONG_STEP_SECONDS
        standin.behaviour.silent_seconds = LONG_SILENCE
        long_graph = {**SHAPE, "advanced": {"steps": LONG_STEPS}}
        long_run = engine_job(jobs, long_graph)
    engine_wall, bare_wall = median([r["wall"] for r in runs]), median(bare)
    figures = {
        "engine_wall_s": engine_wall,
        "bare_client_wall_s": bare_wall,
        "overhead_ratio": engine_wall / bare_wall,
        "submit_to_first_message_ms_p50": 1000 * median([r["to_first"] for r in runs]),
        "submit_to_first_message_ms_p95": 1000 * percentile([r["to_first"] for r in runs], 95),
        "last_message_to_artifact_ms_p50": 1000 * median([r["after_last"] for r in runs]),
        "last_message_to_artifact_ms_p95": 1000 * percentile([r["after_last"] for r in runs], 95),
        "long_job_wall_s": long_run["wall"],
        "long_job_max_progress_gap_s": long_run["max_gap"],
    }
    first_p50, first_p95 = figures["submit_to_first_message_ms_p50"], figures["submit_to_first_message_ms_p95"]
    last_p50, last_p95 = figures["last_message_to_artifact_ms_p50"], figures["last_message_to_artifact_ms_p95"]
    long_wall, long_gap = long_run["wall"], long_run["max_gap"]
    write_section(
        "ComfyUI engine overhead (stand-in server)",
        f"""
`PYTHONPATH=. python -m benchmarks.comfyui` (part of `make bench`) on {machine()}. The server is the
stand-in ComfyUI of the tests (loopback, {JOBS} t2v jobs of 256x160, 17 frames, 8 steps of 10 ms,
after one warm-up job); the engine runs inside the real job service and worker (SQLite record,
artifacts stored and hashed).

| figure | value |
|---|---|
| one job, engine through the job service (median) | {engine_wall * 1000:.0f} ms |
| one job, bare client: POST /prompt, wait on /ws, /history, /view (median) | {bare_wall * 1000:.0f} ms |
| ratio engine / bare client | {engine_wall / bare_wall:.2f}x |
| submit to the server's first message (`execution_start`), p50 / p95 | {first_p50:.0f} / {first_p95:.0f} ms |
| server's last message to the stored artifact, p50 / p95 | {last_p50:.0f} / {last_p95:.0f} ms |

Submit to first message covers the record, the socket, POST /prompt and two fetches of
`/object_info` (the submission's check and the worker's, whose copy the run's check of the patched
workflow reuses; a real server's is megabytes, so caching it longer is the next step if it shows).
The last message to the artifact covers the download, the MP4 check and faststart re-mux, the poster and storing.
A long job: {LONG_STEPS} steps
of {LONG_STEP_SECONDS:g} s, then a decode that sends nothing for {LONG_SILENCE:g} s (as a real VAE decode
does): {long_wall:.1f} s in all, and the job's progress never went quiet for more than
**{long_gap:.2f} s** (the engine re-reports every 2 s while
the server is silent, however long the job is, so a 10-minute job reports at least every 5 s too).
""",
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
