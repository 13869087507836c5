"""Artifacts in S3-compatible storage, against moto's S3 server (a real HTTP server speaking the S3
protocol, started here; nothing of ours is mocked): workers write there, the API serves ranges or
redirects to presigned URLs, and deleting a job removes its objects."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx
import soundfile as sf

from tests.api.conftest import running, wait_for
from tests.servers import S3Server
from tests.storage.conftest import objects


def test_artifacts_live_in_the_bucket_and_are_served_with_ranges(tmp_path: Path, s3: S3Server) -> None:
    home = tmp_path / "home"
    env = s3.env(prefix="studio")
    with running(home, workers=1, env=env) as api, api.client() as client:
        job = client.post("/api/v1/generate", json={"prompt": "bright folk", "duration": 5}).json()
        done = wait_for(client, job["id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded", done
        mix = next(a for a in done["artifacts"] if a["role"] == "mix")

        stored = objects(s3, f"studio/artifacts/{job['id']}/")
        assert len(stored) == len(done["artifacts"]) and mix["bytes"] in stored.values()
        assert not (home / "artifacts" / job["id"]).exists()  # nothing kept on the API host's disk

        whole = client.get(mix["url"])
        assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
        assert hashlib.sha256(whole.content).hexdigest() == mix["sha256"]
        audio, rate = sf.read(io.BytesIO(whole.content))
        assert abs(len(audio) / rate - 5) < 0.25

        part = client.get(mix["url"], headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206 and part.headers["content-range"] == f"bytes 100-1099/{mix['bytes']}"
        assert part.content == whole.content[100:1100]
        tail = client.get(mix["url"], headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == whole.content[-10:]
        beyond = client.get(mix["url"], headers={"Range": f"bytes={mix['bytes'] + 5}-"})
        assert beyond.status_code == 416

    with running(home, workers=0, env={**env, "CADENZA_STORAGE_PRESIGN": "1"}) as api, api.client() as client:
        redirect = client.get(mix["url"], follow_redirects=False)
        assert redirect.status_code == 307 and redirect.headers["location"].startswith(s3.endpoint())
        direct = httpx.get(redirect.headers["location"])
        assert direct.status_code == 200 and hashlib.sha256(direct.content).hexdigest() == mix["sha256"]

        assert client.delete(f"/api/v1/jobs/{job['id']}").status_code in (200, 204)
        assert objects(s3, f"studio/artifacts/{job['id']}/") == {}
