"""Uploads on shared storage: an image uploaded to the API is kept in the S3 bucket (moto's real S3
server), and a worker with a data dir of its own (another host) reads it from there to run the job.
Real processes: moto's server, redis-server, PostgreSQL, `cadenza serve --workers 0`, `cadenza worker`."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.api.conftest import running, wait_for
from tests.servers import RedisServer, S3Server, start_worker, stop_process
from tests.storage.conftest import objects

RED, BLUE = (220, 30, 30), (30, 30, 220)


def _two_colours(width: int = 256, height: int = 144) -> bytes:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = RED
    pixels[:, width // 2 :] = BLUE
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def test_an_upload_is_stored_in_the_bucket_and_a_worker_on_another_host_uses_it(
    tmp_path: Path, s3: S3Server, postgres_server, redis_server: RedisServer
) -> None:
    env = {
        **s3.env(prefix="team"),
        "CADENZA_DATABASE_URL": postgres_server.url(postgres_server.database()),
        "CADENZA_QUEUE_URL": redis_server.url(),
    }
    api_home, worker_home = tmp_path / "api-host", tmp_path / "gpu-host"
    image = _two_colours()
    digest = hashlib.sha256(image).hexdigest()
    worker = start_worker({**env, "CADENZA_HOME": str(worker_home)}, "--engines", "motion", "--device", "cpu")
    try:
        with running(api_home, workers=0, env=env) as api, api.client() as client:
            sent = client.post("/api/v1/uploads", files={"file": ("still.png", image, "image/png")})
            assert sent.status_code == 201, sent.text
            upload = sent.json()
            assert upload["sha256"] == digest and upload["kind"] == "image"
            assert objects(s3, "team/uploads/") == {f"team/uploads/{digest}.png": len(image)}
            assert not [p for p in (api_home / "uploads").rglob("*") if p.is_file()]  # nothing on the API's disk
            again = client.post("/api/v1/uploads", files={"file": ("copy.png", image, "image/png")})
            assert again.status_code == 200 and again.json()["id"] == upload["id"]  # still content-addressed

            job = client.post(
                "/api/v1/jobs",
                json={"task": "i2v", "input": {"image": upload["id"], "width": 256, "height": 144, "frames": 8}},
            )
            assert job.status_code == 202, job.text
            done = wait_for(client, job.json()["id"], ("succeeded", "failed"), 180)
            assert done["status"] == "succeeded", done
            assert (worker_home / "cache" / "uploads" / f"{digest}.png").read_bytes() == image  # read from S3

            video = next(a for a in done["artifacts"] if a["role"] == "video")
            first = _first_frame(client.get(video["url"]).content, tmp_path / "i2v.mp4")
            left, right = first[:, :64].mean(axis=(0, 1)), first[:, -64:].mean(axis=(0, 1))
            assert left[0] > 150 > left[2] and right[2] > 150 > right[0], (left, right)  # the uploaded picture

            assert client.delete(f"/api/v1/jobs/{done['id']}").status_code in (200, 204)
            assert client.delete(f"/api/v1/uploads/{upload['id']}").status_code == 204
            assert objects(s3, "team/uploads/") == {}
    finally:
        stop_process(worker)


def _first_frame(content: bytes, path: Path) -> np.ndarray:
    from cadenza.media.video import read_frames

    path.write_bytes(content)
    return next(iter(read_frames(path))).astype(np.float32)
