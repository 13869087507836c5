"""An API whose own host cannot run an engine (an API on a CPU box without LTX weights) accepts a job for
it when a worker elsewhere offers it (`cadenza worker --engines ltx` where the weights are), checks the
request's shape rules itself, and runs the job on that worker. Real processes: redis-server, PostgreSQL,
`cadenza serve --workers 0` and `cadenza worker`; the "other host" is a worker whose models dir holds a
tiny random LTX-Video pipeline the API's does not."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from cadenza.jobs.store import Store
from tests.api.conftest import running, wait_for
from tests.servers import RedisServer, start_worker, stop_process

pytest.importorskip("diffusers")
pytestmark = pytest.mark.slow

VIDEO = {"prompt": "a red fox in the snow", "width": 64, "height": 64, "frames": 9, "fps": 8, "preset": "fast"}


def _until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _submit(client: httpx.Client, **fields) -> httpx.Response:
    return client.post("/api/v1/jobs", json={"task": "t2v", "engine": "ltx", "input": {**VIDEO, **fields}})


def test_a_job_for_an_engine_only_a_worker_offers_is_accepted_checked_here_and_run_there(
    tmp_path: Path, postgres_server, redis_server: RedisServer
) -> None:
    from tests.engines.tiny_models import tiny_ltx_video

    models = tmp_path / "gpu-host-models"
    tiny_ltx_video(models / "ltx-video-0.9.7-distilled")
    empty = tmp_path / "cpu-host-models"
    empty.mkdir()
    database = postgres_server.url(postgres_server.database())
    shared = {
        "CADENZA_DATABASE_URL": database,
        "CADENZA_QUEUE_URL": redis_server.url(),
        "CADENZA_STALE_AFTER_SECONDS": "3",
        "HF_HOME": str(tmp_path / "hf"),  # no cached weights on either "host"
    }
    home = tmp_path / "home"  # a directory both mount (the default local storage)
    api_env = {**shared, "CADENZA_MODELS_DIR": str(empty)}
    worker_env = {**shared, "CADENZA_HOME": str(home), "CADENZA_MODELS_DIR": str(models)}
    workers = []
    with running(home, workers=0, env=api_env) as api, api.client() as client:
        try:
            refused = _submit(client)
            assert refused.status_code == 503, refused.text
            message = refused.json()["error"]["message"]
            assert "no worker offers it" in message and "motion: this host" in message, message
            assert "hf download Lightricks/LTX-Video-0.9.7-distilled" in message, message

            workers.append(start_worker(worker_env, "--engines", "ltx", "--device", "cpu"))
            listed = _until(lambda: client.get("/api/v1/workers").json()["items"], 90, "the ltx worker announcing")
            engines = {e["name"]: e for e in client.get("/api/v1/engines").json()["engines"]}
            assert not engines["ltx"]["available"] and engines["ltx"]["workers"] == [listed[0]["id"]]

            # the shape rules are the API's to check: the engine's class loads without its weights
            bad = _submit(client, height=72)
            assert bad.status_code == 422, bad.text
            assert "not a multiple of 32" in bad.json()["error"]["message"]
            advanced = _submit(client, advanced={"stepz": 3})
            assert advanced.status_code == 422 and "stepz" in advanced.json()["error"]["message"]

            accepted = _submit(client)
            assert accepted.status_code == 202, accepted.text
            done = wait_for(client, accepted.json()["id"], ("succeeded", "failed"), 240)
            assert done["status"] == "succeeded", done
            assert _ran_on(database, done["id"]) == workers[0].pid
            video = next(a for a in done["artifacts"] if a["role"] == "video")
            _decoded_frames(client, video["url"], tmp_path / "first.mp4", expected=(9, 64, 64))

            # what an API host without the engine's package would queue: the request unchecked. The
            # worker checks it and fails the job saying what was wrong (not "failed unexpectedly")
            unchecked = _queue_unchecked(database, redis_server.url(), home, {**VIDEO, "advanced": {"stepz": 3}})
            failed = wait_for(client, unchecked, ("succeeded", "failed"), 120)
            assert failed["status"] == "failed" and failed["error"]["category"] == "input", failed
            assert failed["error"]["message"].startswith("advanced.stepz"), failed

            # the worker dies: it stays on record, so a new ltx job waits for it instead of being refused
            workers[0].kill()
            workers[0].wait(10)
            _until(lambda: not client.get("/api/v1/workers").json()["items"], 30, "the dead worker going stale")
            waiting = _submit(client, prompt="a blue whale")
            assert waiting.status_code == 202, waiting.text
            job_id = waiting.json()["id"]
            stage = _until(
                lambda: client.get(f"/api/v1/jobs/{job_id}").json()["stage"] == "waiting for a worker with ltx",
                30,
                "the stage naming the missing worker",
            )
            assert stage and client.get(f"/api/v1/jobs/{job_id}").json()["status"] == "queued"

            workers.append(start_worker(worker_env, "--engines", "ltx", "--device", "cpu"))
            done = wait_for(client, job_id, ("succeeded", "failed"), 240)
            assert done["status"] == "succeeded" and _ran_on(database, job_id) == workers[1].pid, done
        finally:
            for worker in workers:
                stop_process(worker)

    assert Store(database).get_job(job_id).attempts == 1


def _queue_unchecked(database: str, queue_url: str, home: Path, request: dict) -> str:
    from cadenza.config import Settings
    from cadenza.jobs.queue import make_queue

    store = Store(database)
    job, _ = store.create_job(task="t2v", engine="ltx", request=request, prompt="unchecked", max_attempts=1)
    make_queue(Settings(home=home, database_url=database, queue_url=queue_url)).enqueue(job.id, "ltx")
    return job.id


def _ran_on(database: str, job_id: str) -> int:
    """The pid of the process that ran the job (worker ids are host:pid:thread)."""
    return int(Store(database).get_job(job_id).worker_id.split(":")[1])


def _decoded_frames(client: httpx.Client, url: str, path: Path, expected: tuple[int, int, int]) -> None:
    from cadenza.media.video import read_frames

    path.write_bytes(client.get(url).content)
    frames = list(read_frames(path))
    assert (len(frames), *frames[0].shape[:2]) == expected
