"""The motion engine's video tasks over HTTP against a real server: submit, wait, download, probe."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

from cadenza.media.video import VideoWriter, probe
from tests.api.conftest import Server, wait_for

LYRICS = "[Verse]\nRain on the window\nLights on the road\n[Chorus]\nWe keep on driving\nHome through the cold\n"


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def upload(client, name: str, data: bytes) -> str:
    response = client.post("/api/v1/uploads", files={"file": (name, io.BytesIO(data))})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def finished_video(client, job_id: str, tmp_path: Path):
    job = wait_for(client, job_id, ("succeeded", "failed"), timeout=240)
    assert job["status"] == "succeeded", job
    roles = {a["role"]: a for a in job["artifacts"]}
    assert {"video", "poster", "recipe"} <= set(roles) and roles["video"]["mime"] == "video/mp4"
    path = tmp_path / f"{job_id}.mp4"
    path.write_bytes(client.get(roles["video"]["url"]).content)
    return job, probe(path, count_frames=True)


def test_every_motion_task_over_http(server: Server, tmp_path: Path) -> None:
    with server.client() as client:
        song = client.post(
            "/api/v1/jobs",
            json={"task": "generate", "input": {"prompt": "synth pop", "duration": 20, "bpm": 150, "lyrics": LYRICS}},
        ).json()
        song = wait_for(client, song["id"], ("succeeded",), timeout=240)
        small = {"width": 256, "height": 144}
        still = np.full((144, 256, 3), (40, 80, 120), np.uint8)
        cv2.rectangle(still, (80, 40), (140, 100), (240, 200, 40), -1)
        image_id = upload(client, "still.png", png(still))

        submitted = {
            "a2v": {"audio": song["id"], **small},
            "i2v": {"image": image_id, "audio": song["id"], "prompt": "push in", **small},
            "t2v": {"prompt": "Night drive", "frames": 12, **small},
            "keyframe": {"first_frame": image_id, "last_frame": image_id, "frames": 5, **small},
        }
        ids = {}
        for task, fields in submitted.items():
            response = client.post("/api/v1/jobs", json={"task": task, "input": fields})
            assert response.status_code == 202, response.text
            assert response.json()["engine"] == "motion"
            ids[task] = response.json()["id"]

        seconds = song["recipe"]["length_seconds"]
        job, info = finished_video(client, ids["a2v"], tmp_path)
        assert job["parent_id"] == song["id"]
        assert (info.video_codec, info.pix_fmt, info.width, info.height, info.fps) == ("h264", "yuv420p", 256, 144, 30)
        assert info.frames == round(seconds * 30) and abs(info.audio_duration_s - seconds) < 0.05
        job, info = finished_video(client, ids["i2v"], tmp_path)
        assert info.frames == round(seconds * 30) and info.audio_codec == "aac"
        assert finished_video(client, ids["t2v"], tmp_path)[1].frames == 12
        assert finished_video(client, ids["keyframe"], tmp_path)[1].frames == 5

        source = tmp_path / "source.mp4"
        with VideoWriter(source, 160, 96, 24) as writer:
            for index in range(24):
                writer.write(np.full((96, 160, 3), index * 10, np.uint8))
        video_id = upload(client, "source.mp4", source.read_bytes())
        response = client.post("/api/v1/jobs", json={"task": "style", "input": {"video": video_id, "prompt": "sepia"}})
        assert response.status_code == 202, response.text
        _, info = finished_video(client, response.json()["id"], tmp_path)
        assert (info.frames, info.width, info.height, round(info.fps), info.has_audio) == (24, 160, 96, 24, False)


def test_bad_video_requests_are_4xx_naming_what_is_accepted(server: Server, tmp_path: Path) -> None:
    with server.client() as client:
        response = client.post("/api/v1/uploads", files={"file": ("notes.png", io.BytesIO(b"just text"))})
        assert response.status_code in (400, 415, 422) and "PNG, JPEG, WEBP" in response.text

        whole = tmp_path / "whole.mp4"
        with VideoWriter(whole, 160, 96, 24) as writer:
            for index in range(48):
                writer.write(np.random.default_rng(index).integers(0, 255, (96, 160, 3), dtype=np.uint8))
        cut = whole.read_bytes()[: whole.stat().st_size // 2]
        response = client.post("/api/v1/uploads", files={"file": ("cut.mp4", io.BytesIO(cut))})
        assert 400 <= response.status_code < 500 and "MP4" in response.text, response.text

        response = client.post(
            "/api/v1/jobs", json={"task": "t2v", "input": {"prompt": "x", "width": 4000, "height": 4000}}
        )
        assert response.status_code == 422 and "1920" in response.text

        image_id = upload(client, "face.png", png(np.zeros((64, 64, 3), np.uint8)))
        tone = tmp_path / "tone.wav"
        import soundfile as sf

        sf.write(tone, np.zeros(48000, np.float32), 48000)
        audio_id = upload(client, "tone.wav", tone.read_bytes())
        response = client.post(
            "/api/v1/jobs",
            json={"task": "lipsync", "engine": "motion", "input": {"image": image_id, "audio": audio_id}},
        )
        assert 400 <= response.status_code < 500 and "engines that do: ltx" in response.text
