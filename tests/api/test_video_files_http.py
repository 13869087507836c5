"""Video artifacts over HTTP: served as video/mp4 with Range support so browsers can seek, and reachable
by the studio's signed links when the server has a token."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import running, wait_for

T2V = {"task": "t2v", "input": {"prompt": "Cadenza", "width": 320, "height": 180, "duration": 1, "fps": 12}}


def _video(client) -> dict:
    job = client.post("/api/v1/jobs", json=T2V).json()
    done = wait_for(client, job["id"], ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    return next(a for a in done["artifacts"] if a["role"] == "video")


def test_an_mp4_answers_range_requests_as_video(tmp_path: Path) -> None:
    with running(tmp_path / "home") as server, server.client() as client:
        video = _video(client)
        whole = client.get(video["url"])
        assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
        assert whole.content[4:8] == b"ftyp"
        part = client.get(video["url"], headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.headers["content-type"] == "video/mp4"
        assert part.headers["content-range"] == f"bytes 1000-1999/{video['bytes']}"
        assert part.content == whole.content[1000:2000]
        tail = client.get(video["url"], headers={"Range": "bytes=-500"})
        assert tail.status_code == 206 and tail.content == whole.content[-500:]


def test_a_signed_link_stands_in_for_the_token_for_its_file_only(tmp_path: Path) -> None:
    from cadenza.jobs.links import file_signature

    token = "s3cret-token"
    with running(tmp_path / "home", env={"CADENZA_API_TOKEN": token}) as server:
        with server.client(token) as client:
            video = _video(client)
            other = client.get("/api/v1/jobs").json()["items"][0]["artifacts"]
            poster = next(a for a in other if a["role"] == "poster")
        with server.client() as anonymous:
            assert anonymous.get(video["url"]).status_code == 401
            signed = anonymous.get(video["url"], params={"sig": file_signature(token, video["id"])})
            assert signed.status_code == 200 and signed.headers["content-type"] == "video/mp4"
            borrowed = anonymous.get(poster["url"], params={"sig": file_signature(token, video["id"])})
            assert borrowed.status_code == 401
            assert anonymous.get("/api/v1/jobs", params={"sig": file_signature(token, video["id"])}).status_code == 401
