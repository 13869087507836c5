"""The comfyui engine over HTTP: a real `cadenza serve` process (tests/api/conftest.py) whose
CADENZA_COMFYUI_URL points at the stand-in ComfyUI server (a remote GPU service, the one thing stood in
for; see standin.py). Each task is uploaded, submitted, followed and its video downloaded and decoded."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from cadenza.media.video import probe
from tests.api.conftest import Server, running, wait_for
from tests.engines.comfyui.conftest import clip, picture, song
from tests.engines.comfyui.standin import Running, StandIn


@pytest.fixture(scope="module")
def comfy() -> Iterator[Running]:
    with Running(StandIn()) as started:
        yield started


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory, comfy: Running) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve") / "home"
    with running(home, workers=1, env={"CADENZA_COMFYUI_URL": comfy.url}) as started:
        yield started


def upload(server: Server, path: Path) -> str:
    with server.client() as client, path.open("rb") as handle:
        response = client.post("/api/v1/uploads", files={"file": (path.name, handle)})
    assert response.status_code in (200, 201), response.text  # 200: the server already holds these bytes
    return response.json()["id"]


@pytest.mark.parametrize("task", ["t2v", "i2v", "a2v", "lipsync", "keyframe", "style"])
def test_every_video_task_over_http(studio: Server, comfy: Running, tmp_path: Path, task: str) -> None:
    size = {"width": 160, "height": 96, "fps": 8}
    fields = {
        "t2v": lambda: {"prompt": "a red kite", "frames": 9, **size},
        "i2v": lambda: {"image": upload(studio, picture(tmp_path / "i.png")), "frames": 9, **size},
        "a2v": lambda: {"audio": upload(studio, song(tmp_path / "a.wav", 1.0)), **size},
        "lipsync": lambda: {
            "image": upload(studio, picture(tmp_path / "f.png")),
            "audio": upload(studio, song(tmp_path / "s.wav", 1.0)),
            **size,
        },
        "keyframe": lambda: {
            "first_frame": upload(studio, picture(tmp_path / "1.png", hue=0)),
            "last_frame": upload(studio, picture(tmp_path / "2.png", hue=150)),
            "frames": 9,
            **size,
        },
        "style": lambda: {"video": upload(studio, clip(tmp_path / "v.mp4", 96, 64, frames=8)), "prompt": "inverted"},
    }[task]()
    with studio.client() as client:
        response = client.post("/api/v1/jobs", json={"task": task, "engine": "comfyui", "input": fields})
        assert response.status_code == 202, response.text
        job = wait_for(client, response.json()["id"], ("succeeded", "failed", "cancelled"))
        assert job["status"] == "succeeded", job
        video = next(a for a in job["artifacts"] if a["role"] == "video")
        assert any(a["role"] == "poster" for a in job["artifacts"])
        download = client.get(video["url"])
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    path = tmp_path / "got.mp4"
    path.write_bytes(download.content)
    info = probe(path, count_frames=True)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height, info.frames) == ({"style": (96, 64, 8)}.get(task, (160, 96, 9)))
    assert info.has_audio == (task in ("a2v", "lipsync", "style"))


def test_music_generate_over_http(studio: Server, comfy: Running) -> None:
    with studio.client() as client:
        response = client.post(
            "/api/v1/jobs", json={"task": "generate", "engine": "comfyui", "input": {"prompt": "lofi", "duration": 5}}
        )
        assert response.status_code == 202, response.text
        job = wait_for(client, response.json()["id"], ("succeeded", "failed"))
        assert job["status"] == "succeeded", job
        mix = next(a for a in job["artifacts"] if a["role"] == "mix")
        audio, rate = sf.read(io.BytesIO(client.get(mix["url"]).content))
    assert abs(len(audio) / rate - 5.0) < 0.01


def test_a_workflow_the_server_cannot_run_is_refused_at_submission(studio: Server, comfy: Running) -> None:
    comfy.standin.missing_models = {"t5xxl_fp16.safetensors"}
    try:
        with studio.client() as client:
            response = client.post("/api/v1/jobs", json={"task": "t2v", "engine": "comfyui", "input": {"prompt": "x"}})
    finally:
        comfy.standin.missing_models = set()
    assert response.status_code == 503, response.text
    assert "model file 't5xxl_fp16.safetensors' (clip_name) is not on the server" in response.text
