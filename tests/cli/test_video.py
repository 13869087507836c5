"""`cadenza video ...` as a user drives it: a real process per command, files checked with PyAV."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from cadenza.media.video import VideoWriter, probe, read_frames, write_image

CADENZA = [sys.executable, "-m", "cadenza"]
LYRICS = "[Verse]\nRain on the window\nLights on the road\n[Chorus]\nWe keep on driving\nHome through the cold\n"
SMALL = ["--width", "320", "--height", "180"]


def cadenza(*args: str, home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "CADENZA_HOME": str(home), **(env or {})}
    return subprocess.run([*CADENZA, *args], capture_output=True, text=True, env=environment, timeout=300)


def made(*args: str, home: Path, out: Path) -> dict:
    result = cadenza(*args, "--out", str(out), "--json", home=home)
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def video(report: dict) -> Path:
    assert report["status"] == "succeeded"
    roles = {a["role"]: a for a in report["artifacts"]}
    assert roles["poster"]["mime"] == "image/png" and roles["video"]["mime"] == "video/mp4" and "recipe" in roles
    return Path(roles["video"]["path"])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def song(home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("song")
    (folder / "lyrics.txt").write_text(LYRICS)
    return made("generate", "synth pop", "--duration", "20", "--bpm", "150", "--seed", "2",
                "--lyrics", str(folder / "lyrics.txt"), home=home, out=folder)  # fmt: skip


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("images")
    # Textured, as photos are: optical flow follows texture.
    noise = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (180, 320, 3), np.uint8), (0, 0), 2)
    base = noise // 3 + np.array([30, 50, 80], np.uint8)
    disc = noise[60:120, 0:60] // 4 + np.array([215, 190, 10], np.uint8)
    mask = np.zeros((60, 60), np.uint8)
    cv2.circle(mask, (30, 30), 28, 255, -1)

    def placed(x: int) -> np.ndarray:
        image = base.copy()
        region = image[60:120, x - 30 : x + 30]
        region[mask > 0] = disc[mask > 0]
        return image

    return write_image(placed(90), folder / "first.png"), write_image(placed(150), folder / "last.png")


def test_a2v_of_a_song_job_is_its_music_video(home: Path, song: dict, tmp_path: Path) -> None:
    report = made("video", "a2v", song["job_id"], *SMALL, "--prompt", "ring", home=home, out=tmp_path)
    info = probe(video(report), count_frames=True)
    seconds = song["recipe"]["length_seconds"]
    assert (info.video_codec, info.pix_fmt, info.width, info.height, info.fps) == ("h264", "yuv420p", 320, 180, 30)
    assert info.frames == round(seconds * 30)
    assert info.audio_codec == "aac" and abs(info.audio_duration_s - seconds) < 0.05
    assert report["recipe"]["beats"]["source"] == "recipe" and report["recipe"]["captions"] == 4
    shown = json.loads(cadenza("jobs", "show", report["job_id"], "--json", home=home).stdout)
    assert shown["parent_id"] == song["job_id"]


def test_a2v_of_a_local_file_with_a_background(home: Path, song: dict, images: tuple, tmp_path: Path) -> None:
    mix = next(a["path"] for a in song["artifacts"] if a["role"] == "mix")
    report = made("video", "a2v", mix, "--image", str(images[0]), *SMALL, "--duration", "2", home=home, out=tmp_path)
    info = probe(video(report), count_frames=True)
    assert info.frames == 60 and info.has_audio and abs(info.audio_duration_s - 2.0) < 0.05
    assert report["recipe"]["beats"]["source"] == "estimated"  # an upload has no recipe


def test_t2v_i2v_keyframe_and_style(home: Path, song: dict, images: tuple, tmp_path: Path) -> None:
    title = made("video", "t2v", "Rain on the window", *SMALL, "--duration", "1", "--seed", "3",
                 home=home, out=tmp_path / "t2v")  # fmt: skip
    info = probe(video(title), count_frames=True)
    assert (info.frames, info.width, info.height, info.has_audio) == (30, 320, 180, False)

    moved = made("video", "i2v", str(images[0]), "--prompt", "pan left", *SMALL, "--frames", "20",
                 home=home, out=tmp_path / "i2v")  # fmt: skip
    assert probe(video(moved), count_frames=True).frames == 20

    tween = made("video", "keyframe", str(images[0]), str(images[1]), *SMALL, "--frames", "7",
                 home=home, out=tmp_path / "kf")  # fmt: skip
    frames = list(read_frames(video(tween)))
    assert len(frames) == 7
    yellow = (frames[3][..., 0] > 200) & (frames[3][..., 2] < 120)
    assert 105 < np.nonzero(yellow)[1].mean() < 135  # the disc half way from x=90 to x=150

    clip = tmp_path / "clip.mp4"
    mix = Path(next(a["path"] for a in song["artifacts"] if a["role"] == "mix"))
    with VideoWriter(clip, 160, 90, 25, audio=mix) as writer:
        for index in range(25):
            writer.write(np.full((90, 160, 3), index * 8, np.uint8))
    styled = made("video", "style", str(clip), "--prompt", "noir film grain", home=home, out=tmp_path / "style")
    info = probe(video(styled), count_frames=True)
    assert (info.frames, info.width, info.height, round(info.fps)) == (25, 160, 90, 25)
    assert info.audio_codec == "aac" and abs(info.audio_duration_s - 1.0) < 0.05


def test_same_seed_same_frames(home: Path, tmp_path: Path) -> None:
    runs = [
        made(
            "video",
            "t2v",
            "Hello",
            "--width",
            "128",
            "--height",
            "96",
            "--frames",
            "8",
            "--seed",
            "9",
            home=home,
            out=tmp_path / str(n),
        )
        for n in range(2)
    ]
    one, two = (np.stack(list(read_frames(video(r)))) for r in runs)
    assert np.array_equal(one, two)


def test_bad_inputs_exit_2_naming_what_is_accepted(home: Path, song: dict, tmp_path: Path, images: tuple) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    result = cadenza("video", "i2v", str(text), home=home)
    assert result.returncode == 2 and "image (PNG, JPEG, WEBP)" in result.stderr

    whole = tmp_path / "whole.mp4"
    with VideoWriter(whole, 160, 90, 25) as writer:
        for index in range(50):
            writer.write(np.random.default_rng(index).integers(0, 255, (90, 160, 3), dtype=np.uint8))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = cadenza("video", "style", str(cut), "--prompt", "noir", home=home)
    assert result.returncode == 2 and "MP4" in result.stderr, result.stderr

    result = cadenza("video", "style", str(whole), "--prompt", "noir", home=home,
                     env={"CADENZA_MAX_VIDEO_SECONDS": "1"})  # fmt: skip
    assert result.returncode == 2 and "up to 1 s" in result.stderr, result.stderr

    result = cadenza("video", "t2v", "big", "--width", "4000", "--height", "4000", home=home)
    assert result.returncode == 2 and "1920" in result.stderr

    result = cadenza("video", "lipsync", str(images[0]), song["job_id"], "--engine", "motion", home=home)
    assert result.returncode == 2 and "engines that do: ltx" in result.stderr, result.stderr
