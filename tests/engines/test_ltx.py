"""The ltx engine through the real loading path (--model DIR, from_pretrained) with tiny random
LTX-Video pipelines built in code, checked on the decoded MP4s it writes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")

from cadenza.engines.base import RunContext
from cadenza.engines.ltx import LtxEngine
from cadenza.errors import Cancelled, EngineUnavailable, InputError
from cadenza.jobs.service import JobService
from cadenza.jobs.worker import run_job
from cadenza.media.video import VideoWriter, probe, read_frames, write_image
from cadenza.tasks.video import I2VRequest, KeyframeRequest, T2VRequest
from tests.conftest import job_service
from tests.engines.tiny_models import tiny_ltx_upsampler, tiny_ltx_video

pytestmark = pytest.mark.slow
SIZE = {"width": 96, "height": 64, "frames": 17}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {"model": tiny_ltx_video(folder / "tiny-ltx"), "upsampler": tiny_ltx_upsampler(folder / "tiny-up")}


@pytest.fixture()
def studio(tmp_path: Path) -> JobService:
    return job_service(tmp_path / "home")


def image(path: Path, colour: tuple[int, int, int], stripe: int = 0) -> Path:
    frame = np.zeros((64, 96, 3), np.uint8)
    frame[:] = colour
    frame[:, stripe : stripe + 16] = 255 - np.array(colour, np.uint8)
    return write_image(frame, path)


def frames_of(path: Path) -> np.ndarray:
    return np.stack(list(read_frames(path))).astype(np.float32)


def run(models: dict[str, Path], tmp_path: Path, request_type: type, seed: int = 1, inputs=None, **fields):
    scratch = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    scratch.mkdir()
    advanced = {"model": str(models["model"]), "upsampler": str(models["upsampler"]), **fields.pop("advanced", {})}
    extra = fields.pop("ctx", {})
    request = request_type(**{**SIZE, **fields}, advanced=advanced)
    ctx = RunContext(seed=seed, scratch=scratch, device="cpu", inputs=inputs or {}, **extra)
    return LtxEngine().run(request, ctx)


def test_t2v_through_the_job_service_writes_a_browser_mp4_poster_and_recipe(
    models: dict[str, Path], studio: JobService
) -> None:
    advanced = {"model": str(models["model"])}
    job = studio.submit(task="t2v", engine="ltx", input={"prompt": "a red fox", **SIZE, "fps": 12,
                                                          "preset": "fast", "advanced": advanced})  # fmt: skip
    done = run_job(studio.settings, studio.store, job.id)
    assert done.status == "succeeded", done.error_message
    roles = {a.role: studio.settings.home / a.path for a in done.artifacts}
    assert set(roles) == {"video", "poster", "recipe"}
    info = probe(roles["video"], count_frames=True)
    assert (info.video_codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 96, 64)
    assert info.frames == 17 and info.fps == 12 and not info.has_audio
    assert roles["video"].read_bytes()[:64].find(b"moov") > 0  # +faststart: the index comes first
    recipe = done.recipe
    assert recipe["model"]["id"] == "tiny-ltx" and recipe["model"]["revision"].startswith("local-")
    assert recipe["steps"] == 4 and recipe["preset"] == "fast" and recipe["seed"] == job.request["seed"]
    assert recipe["shape"] == {"width": 96, "height": 64, "frames": 17, "fps": 12, "rounded": {}}
    assert done.budget_s is not None and done.budget_s >= 20 and done.retries == 0
    with pytest.raises(InputError, match=r"height 72 is not a multiple of 32.*nearest: 64"):
        studio.submit(task="t2v", engine="ltx", input={"prompt": "x", "width": 96, "height": 72, "advanced": advanced})


def test_the_same_seed_gives_the_same_frames_and_prompt_and_seed_steer_them(
    models: dict[str, Path], tmp_path: Path
) -> None:
    def video(prompt: str, seed: int) -> np.ndarray:
        output = run(models, tmp_path, T2VRequest, seed=seed, prompt=prompt, preset="fast")
        return frames_of(output.artifacts[0].path)

    first, again = video("a red fox", 1), video("a red fox", 1)
    assert np.array_equal(first, again)
    assert np.abs(first - video("a blue whale", 1)).mean() > 0.5
    assert np.abs(first - video("a red fox", 2)).mean() > 0.5


def test_i2v_and_keyframes_follow_their_images(models: dict[str, Path], tmp_path: Path) -> None:
    from cadenza.engines.base import SourceFile

    red = SourceFile(image(tmp_path / "red.png", (200, 30, 30)), "red")
    blue = SourceFile(image(tmp_path / "blue.png", (30, 30, 200), stripe=64), "blue")
    from_red = frames_of(run(models, tmp_path, I2VRequest, image="u1", prompt="x", inputs={"image": red},
                             preset="fast").artifacts[0].path)  # fmt: skip
    from_blue = frames_of(run(models, tmp_path, I2VRequest, image="u1", prompt="x", inputs={"image": blue},
                              preset="fast").artifacts[0].path)  # fmt: skip
    assert from_red.shape == (17, 64, 96, 3)
    assert np.abs(from_red[0] - from_blue[0]).mean() > 1.0  # the image, not only the seed, makes the video

    def keyframes(last: SourceFile) -> np.ndarray:
        output = run(models, tmp_path, KeyframeRequest, first_frame="u1", last_frame="u2", prompt="x",
                     inputs={"first_frame": red, "last_frame": last}, preset="fast")  # fmt: skip
        assert output.recipe["task"] == "keyframe"
        return frames_of(output.artifacts[0].path)

    to_red, to_blue = keyframes(red), keyframes(blue)
    assert to_red.shape == (17, 64, 96, 3)
    assert np.abs(to_red[-1] - to_blue[-1]).mean() > 1.0  # the last frame follows the last image


def test_style_keeps_the_source_timing_and_sound(models: dict[str, Path], studio: JobService, tmp_path: Path) -> None:
    import soundfile as sf

    sound = tmp_path / "tone.wav"
    t = np.arange(48000 * 2) / 48000
    sf.write(sound, np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.3, 48000)
    source = tmp_path / "source.mp4"
    with VideoWriter(source, 96, 64, 12, audio=sound) as writer:
        for index in range(20):
            writer.write(np.full((64, 96, 3), index * 12, np.uint8))
    upload = studio.upload_file(source)
    fields = {"video": upload.id, "prompt": "pencil sketch", "preset": "fast"}
    job = studio.submit(task="style", engine="ltx", input={**fields, "advanced": {"model": str(models["model"])}})
    done = run_job(studio.settings, studio.store, job.id)
    assert done.status == "succeeded", done.error_message
    video = next(studio.settings.home / a.path for a in done.artifacts if a.role == "video")
    info = probe(video, count_frames=True)
    assert info.fps == 12 and info.frames == 17  # the longest 8k+1 the 20-frame source holds
    assert info.has_audio and abs(info.audio_duration_s - 17 / 12) < 0.1
    assert done.recipe["shape"]["rounded"]["frames"]["used"] == 17


def test_quality_runs_the_upsampler_stage_when_it_is_there(models: dict[str, Path], tmp_path: Path) -> None:
    output = run(models, tmp_path, T2VRequest, prompt="x", preset="quality", width=128, height=64)
    assert "tiny-up" in output.recipe["upsample"] and output.recipe["refine_steps"] == 4
    assert frames_of(output.artifacts[0].path).shape == (17, 64, 128, 3)
    missing = run(models, tmp_path, T2VRequest, prompt="x", preset="quality", width=128, height=64,
                  advanced={"upsampler": "ltxv-spatial-upscaler-0.9.7"})  # fmt: skip
    assert missing.recipe["upsample"].startswith("skipped: model ltxv-spatial-upscaler-0.9.7 is not on this machine")


def test_shape_rules_refuse_or_round_and_say_so(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"width 100 is not a multiple of 32.*nearest: 96.*round_shape"):
        run(models, tmp_path, T2VRequest, prompt="x", width=100)
    with pytest.raises(InputError, match=r"frames 20 is not 8k\+1.*nearest: 17"):
        run(models, tmp_path, T2VRequest, prompt="x", frames=20)
    rounded = run(models, tmp_path, T2VRequest, prompt="x", width=100, frames=20, preset="fast",
                  advanced={"round_shape": True})  # fmt: skip
    assert rounded.recipe["shape"]["rounded"] == {"width": {"asked": 100, "used": 96},
                                                  "frames": {"asked": 20, "used": 17}}  # fmt: skip
    assert probe(rounded.artifacts[0].path, count_frames=True).frames == 17
    # a duration is always rounded to 8k+1 frames: 1 s at 24 fps -> 25 frames
    request = T2VRequest(prompt="x", width=96, height=64, duration=1.0, preset="fast",
                         advanced={"model": str(models["model"])})  # fmt: skip
    (tmp_path / "d").mkdir()
    output = LtxEngine().run(request, RunContext(seed=1, scratch=tmp_path / "d", device="cpu"))
    assert output.recipe["shape"]["frames"] == 25 and output.recipe["shape"]["rounded"]["frames"]["asked"] == 24


def test_progress_per_step_and_cancel_between_steps(models: dict[str, Path], tmp_path: Path) -> None:
    steps, cancel = [], threading.Event()

    def progress(fraction: float, stage: str) -> None:
        if stage == "denoise":
            steps.append(fraction)
            if len(steps) == 2:
                cancel.set()

    with pytest.raises(Cancelled):
        run(models, tmp_path, T2VRequest, prompt="x", preset="balanced",
            ctx={"on_progress": progress, "cancel_event": cancel})  # fmt: skip
    assert len(steps) == 2 and steps[0] < steps[1]  # the third of 8 steps never ran


def test_missing_model_names_the_download_and_audio_tasks_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENZA_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))
    ok, reason = LtxEngine().available()
    assert not ok and "hf download Lightricks/LTX-Video-0.9.7-distilled" in reason
    assert "a2v and lipsync need an audio-conditioned LTX-2 pipeline" in reason
    with pytest.raises(EngineUnavailable, match=r"hf download Lightricks/LTX-Video-0\.9\.7-distilled"):
        LtxEngine().run(T2VRequest(prompt="x", **SIZE), RunContext(seed=1, scratch=tmp_path, device="cpu"))
    from cadenza.engines import registry

    with pytest.raises(EngineUnavailable, match="audio-conditioned"):
        registry.pick("lipsync", request=__import__("cadenza.tasks.video", fromlist=["x"]).LipsyncRequest(
            image="u1", audio="u2"))  # fmt: skip
