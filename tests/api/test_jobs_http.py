"""The REST API against a real server: submit, follow, download, history, delete, and every refusal."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import soundfile as sf

from tests.api.conftest import Server, running, wait_for


def events(server: Server, job_id: str) -> list[tuple[str, object]]:
    collected, event = [], ""
    with server.client() as client, client.stream("GET", f"/api/v1/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                collected.append((event, json.loads(line.split(":", 1)[1])))
                if event == "completed":
                    break
    return collected


def test_submit_follow_download_find_and_delete(server: Server) -> None:
    with server.client() as client:
        response = client.post(
            "/api/v1/jobs", json={"task": "generate", "input": {"prompt": "sunny folk", "duration": 6}}
        )
        assert response.status_code == 202
        job = response.json()
        assert job["status"] == "queued" and job["engine"] == "procedural" and job["input"]["seed"] is not None

        stream = events(server, job["id"])
        kinds = [kind for kind, _ in stream]
        assert kinds[0] == "status" and kinds[-1] == "completed"
        stages = {data["stage"] for kind, data in stream if kind == "progress"}
        assert {"render"} <= stages or "done" in stages
        finished = stream[-1][1]
        assert finished["status"] == "succeeded"

        mix = next(a for a in finished["artifacts"] if a["role"] == "mix")
        download = client.get(mix["url"], params={"download": 1})
        assert download.status_code == 200 and download.headers["content-type"] == "audio/wav"
        assert hashlib.sha256(download.content).hexdigest() == mix["sha256"]
        assert f'filename="{mix["filename"]}"' in download.headers["content-disposition"]
        audio, rate = sf.read(io.BytesIO(download.content))
        assert abs(len(audio) / rate - 6) < 0.25

        history = client.get("/api/v1/jobs", params={"q": "sunny", "status": "succeeded"}).json()
        assert job["id"] in [item["id"] for item in history["items"]]

        assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
        gone = client.get(f"/api/v1/jobs/{job['id']}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert client.get(mix["url"]).status_code == 404
        assert not (server.home / "artifacts" / job["id"]).exists()


def test_range_requests_let_players_seek(server: Server) -> None:
    with server.client() as client:
        job = client.post("/api/v1/generate", json={"prompt": "techno", "duration": 5, "seed": 1}).json()
        done = wait_for(client, job["id"], ("succeeded",))
        mix = next(a for a in done["artifacts"] if a["role"] == "mix")
        part = client.get(mix["url"], headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-1099/{mix['bytes']}"
        whole = client.get(mix["url"]).content
        assert part.content == whole[100:1100]


def test_history_pages_newest_first(server: Server) -> None:
    with server.client() as client:
        ids = [
            client.post(
                "/api/v1/jobs", json={"task": "generate", "engine": "noop", "input": {"prompt": f"page {i}"}}
            ).json()["id"]
            for i in range(5)
        ]
        first = client.get("/api/v1/jobs", params={"limit": 3, "q": "page"}).json()
        second = client.get("/api/v1/jobs", params={"limit": 3, "q": "page", "cursor": first["next_cursor"]}).json()
        seen = [j["id"] for j in first["items"] + second["items"]]
        assert seen == list(reversed(ids)) and second["next_cursor"] is None


def test_idempotency_key_returns_the_same_job(server: Server) -> None:
    with server.client() as client:
        body = {"task": "generate", "engine": "noop", "input": {"prompt": "retry me"}}
        first = client.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "abc-123"}).json()
        second = client.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "abc-123"}).json()
        assert first["id"] == second["id"]


def test_errors_are_json_with_the_right_status(server: Server) -> None:
    with server.client() as client:
        bad_key = client.post("/api/v1/jobs", json={"task": "generate", "input": {"key": "H major"}})
        assert bad_key.status_code == 422
        error = bad_key.json()["error"]
        assert error["code"] == "input" and "key" in error["message"] and "A-G" in error["message"]
        assert (
            client.post("/api/v1/jobs", json={"task": "dance", "input": {}})
            .json()["error"]["message"]
            .startswith("unknown task 'dance'")
        )
        assert (
            client.post("/api/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}).status_code
            == 422
        )
        missing = client.get("/api/v1/files/doesnotexist")
        assert missing.status_code == 404 and "error" in missing.json()
        assert client.post("/api/v1/generate", json={"prompt": "x", "engine": ["a"]}).status_code == 422


def wav_bytes(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((int(44100 * seconds), 2), np.float32), 44100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_uploads_are_checked_before_they_are_accepted(server: Server) -> None:
    with server.client() as client:
        good = client.post("/api/v1/uploads", files={"file": ("take.wav", wav_bytes(2.0), "audio/wav")})
        assert good.status_code == 201
        assert good.json()["kind"] == "audio" and abs(good.json()["duration_s"] - 2.0) < 0.01

        truncated = client.post("/api/v1/uploads", files={"file": ("cut.wav", wav_bytes(2.0)[:-40000], "audio/wav")})
        assert truncated.status_code == 422 and "truncated" in truncated.json()["error"]["message"]

        text = client.post("/api/v1/uploads", files={"file": ("notes.wav", b"hello, not audio" * 100, "audio/wav")})
        assert text.status_code == 422 and "not a readable audio" in text.json()["error"]["message"]

        empty = client.post("/api/v1/uploads", files={"file": ("empty.wav", b"", "audio/wav")})
        assert empty.status_code == 422
    assert not [p for p in (server.home / "uploads").iterdir() if p.name.startswith(".incoming")]


def test_uploads_over_the_cap_are_refused(tmp_path) -> None:
    with running(tmp_path / "home", workers=0, env={"CADENZA_MAX_UPLOAD_MB": "0.5"}) as small, small.client() as client:
        response = client.post("/api/v1/uploads", files={"file": ("big.wav", wav_bytes(10.0), "audio/wav")})
        assert response.status_code == 413 and "CADENZA_MAX_UPLOAD_MB" in response.json()["error"]["message"]


def test_past_the_queue_depth_submissions_get_429(tmp_path) -> None:
    with running(tmp_path / "home", workers=0, env={"CADENZA_MAX_QUEUE_DEPTH": "3"}) as idle, idle.client() as client:
        body = {"task": "generate", "engine": "noop", "input": {}}
        assert [client.post("/api/v1/jobs", json=body).status_code for _ in range(3)] == [202] * 3
        refused = client.post("/api/v1/jobs", json=body)
        assert refused.status_code == 429
        assert refused.json()["error"]["details"] == {"queue_depth": 3, "max_queue_depth": 3}


def test_a_token_guards_every_api_route(tmp_path) -> None:
    with running(tmp_path / "home", workers=0, env={"CADENZA_API_TOKEN": "s3cret"}) as guarded:
        with guarded.client() as anonymous:
            assert anonymous.get("/api/v1/jobs").status_code == 401
            assert anonymous.get("/api/v1/engines").status_code == 401
            assert anonymous.get("/health").status_code == 200
        with guarded.client("wrong") as wrong:
            assert wrong.get("/api/v1/jobs").status_code == 401
        with guarded.client("s3cret") as allowed:
            assert allowed.get("/api/v1/jobs").status_code == 200


def test_serve_refuses_a_public_interface_without_a_token(tmp_path) -> None:
    env = {**os.environ, "CADENZA_HOME": str(tmp_path)}
    env.pop("CADENZA_API_TOKEN", None)
    result = subprocess.run([sys.executable, "-m", "cadenza", "serve", "--host", "0.0.0.0"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "CADENZA_API_TOKEN" in result.stderr


def test_engines_and_stats(server: Server) -> None:
    with server.client() as client:
        listed = client.get("/api/v1/engines").json()
        procedural = next(e for e in listed["engines"] if e["name"] == "procedural")
        assert procedural["available"] and procedural["advanced_schema"]["generate"]["properties"]["target_lufs"]
        assert "prompt" in listed["tasks"]["generate"]["properties"]
        stats = client.get("/api/v1/stats").json()
        assert {"queue_depth", "running", "jobs_per_status", "mean_run_seconds_per_engine"} <= set(stats)
        assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200


def test_a_daw_export_is_an_api_call_and_a_download(server: Server) -> None:
    with server.client() as client:
        song = client.post("/api/v1/generate", json={"prompt": "synthwave", "duration": 5, "seed": 2}).json()
        wait_for(client, song["id"], ("succeeded",))
        for export_format, suffix in (("ardour", ".ardour"), ("reaper", ".rpp")):
            job = client.post(
                "/api/v1/jobs", json={"task": "export", "input": {"source": song["id"], "format": export_format}}
            ).json()
            done = wait_for(client, job["id"], ("succeeded",))
            (archive,) = done["artifacts"]
            download = client.get(archive["url"], params={"download": 1})
            assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
            with zipfile.ZipFile(io.BytesIO(download.content)) as bundle:
                assert any(name.endswith(suffix) for name in bundle.namelist())
