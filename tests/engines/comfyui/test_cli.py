"""The comfyui engine through the `cadenza` command (real processes) against the stand-in ComfyUI server
(a remote GPU service, the one thing stood in for; see standin.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from cadenza.engines.comfyui.library import shipped
from cadenza.media.video import probe
from tests.engines.comfyui.conftest import clip, picture, song
from tests.engines.comfyui.standin import Running, StandIn


def cadenza(home: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CADENZA_HOME": str(home), "CADENZA_COMFYUI_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_workflows_add_list_show_check_and_rm(tmp_path: Path, standin: StandIn, server: Running) -> None:
    home = tmp_path / "home"
    editor = tmp_path / "editor.json"
    editor.write_text(json.dumps({"nodes": [{"id": 1, "type": "LoadImage"}], "links": []}))
    refused = cadenza(home, server.url, "workflows", "add", str(editor), "--task", "t2v")
    assert refused.returncode == 2 and "editor workflow" in refused.stderr and "Export (API)" in refused.stderr

    mine = tmp_path / "mine.json"
    graph = json.loads(json.dumps(shipped("t2v").graph))
    graph["1"]["inputs"]["ckpt_name"] = "ltx-2-19b-distilled.safetensors"
    mine.write_text(json.dumps(graph))
    added = cadenza(home, server.url, "workflows", "add", str(mine), "--task", "t2v", "--map", "seed=9.noise_seed")
    assert added.returncode == 0, added.stderr
    assert (
        "added mine (t2v, 12 nodes)" in added.stderr
        and "seed -> 9.noise_seed (SamplerCustom)  (explicit map)" in added.stderr
    )
    assert (home / "workflows" / "mine.json").is_file()

    listed = json.loads(cadenza(home, server.url, "workflows", "list", "--json").stdout)
    assert [w["name"] for w in listed["workflows"]][-1] == "mine"
    shown = json.loads(cadenza(home, server.url, "workflows", "show", "mine", "--json").stdout)
    assert shown["map"]["prompt"] == ["3.text"] and shown["workflow"]["1"]["class_type"] == "CheckpointLoaderSimple"

    checked = cadenza(home, server.url, "workflows", "check", "mine")
    assert checked.returncode == 3
    assert "model file 'ltx-2-19b-distilled.safetensors' (ckpt_name) is not on the server" in checked.stderr
    fine = cadenza(home, server.url, "workflows", "check", "cadenza-t2v")
    assert fine.returncode == 0 and "ok cadenza-t2v" in fine.stderr

    assert cadenza(home, server.url, "workflows", "rm", "mine").returncode == 0
    missing = cadenza(home, server.url, "workflows", "show", "mine")
    assert missing.returncode == 2 and "no ComfyUI workflow named 'mine'" in missing.stderr


def test_engines_and_doctor_show_the_server(tmp_path: Path, server: Running) -> None:
    engines = json.loads(cadenza(tmp_path / "home", server.url, "engines", "--json").stdout)
    comfy = next(e for e in engines["engines"] if e["name"] == "comfyui")
    assert (
        comfy["available"] and "ComfyUI 0.8.1" in comfy["reason"] and "queue: 0 running, 0 pending" in comfy["reason"]
    )
    assert set(comfy["tasks"]) == {"t2v", "i2v", "a2v", "lipsync", "keyframe", "style", "generate"}
    doctor = cadenza(tmp_path / "home", "http://127.0.0.1:9", "doctor")
    assert "comfyui" in doctor.stderr and "cannot reach the ComfyUI server at http://127.0.0.1:9" in doctor.stderr


def test_generate_music_through_the_cli(tmp_path: Path, server: Running) -> None:
    out = tmp_path / "out"
    done = cadenza(
        tmp_path / "home", server.url, "generate", "dreamy synthwave", "--engine", "comfyui", "--duration", "5",
        "--bpm", "100", "--out", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    mix = next(a for a in result["artifacts"] if a["role"] == "mix")
    audio, rate = sf.read(mix["path"])
    assert abs(len(audio) / rate - 5.0) < 0.01 and result["recipe"]["values"]["bpm"] == 100


@pytest.mark.parametrize("task", ["t2v", "i2v", "a2v", "lipsync", "keyframe", "style"])
def test_every_video_task_through_cadenza_video(tmp_path: Path, server: Running, task: str) -> None:
    size = ["--width", "192", "--height", "128", "--fps", "8"]
    arguments = {
        "t2v": ["a kite", "--frames", "9", *size],
        "i2v": [str(picture(tmp_path / "i.png")), "--frames", "9", *size],
        "a2v": [str(song(tmp_path / "a.wav", 1.0)), *size],
        "lipsync": [str(picture(tmp_path / "f.png")), str(song(tmp_path / "s.wav", 1.0)), *size],
        "keyframe": [
            str(picture(tmp_path / "1.png", hue=0)),
            str(picture(tmp_path / "2.png", hue=150)),
            "--frames",
            "9",
            *size,
        ],
        "style": [str(clip(tmp_path / "v.mp4", 96, 64, frames=8, fps=8)), "--prompt", "inverted"],
    }[task]
    done = cadenza(
        tmp_path / "home", server.url, "video", task, *arguments, "--engine", "comfyui",
        "--out", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded" and result["recipe"]["workflow"]["name"] == f"cadenza-{task}"
    roles = {a["role"]: Path(a["path"]) for a in result["artifacts"]}
    assert {"video", "poster"} <= set(roles)
    info = probe(roles["video"], count_frames=True)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    expected = {"style": (96, 64, 8)}.get(task, (192, 128, 9))
    assert (info.width, info.height, info.frames) == expected
    assert info.has_audio == (task in ("a2v", "lipsync", "style"))
