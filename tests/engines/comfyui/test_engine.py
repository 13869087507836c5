"""The comfyui engine end to end through the real job service and worker, against a stand-in ComfyUI
server (a remote GPU service is the one thing stood in for; see standin.py). Outputs are measured:
decoded frames, sizes, rates, audio streams and lengths."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cadenza.engines.comfyui.client import content_name
from cadenza.engines.comfyui.library import shipped
from cadenza.errors import EngineUnavailable
from cadenza.jobs.service import JobService
from cadenza.jobs.worker import run_job
from cadenza.media.video import probe, read_frames, read_image
from tests.engines.comfyui.conftest import clip, picture, psnr, song
from tests.engines.comfyui.standin import Running, StandIn

SMALL = {"width": 256, "height": 160, "frames": 17, "fps": 12}


def run(studio: JobService, task: str, listener=None, cancel=None, **fields: object):
    job = studio.submit(task=task, engine="comfyui", input=fields, enqueue=False)
    return run_job(studio.settings, studio.store, job.id, listener=listener, cancel_event=cancel)


def files(studio: JobService, job) -> dict[str, Path]:
    return {artifact.role: studio.settings.home / artifact.path for artifact in job.artifacts}


def posted_graph(standin: StandIn) -> dict:
    return standin.posted[-1]["prompt"]


def test_t2v_delivers_the_asked_size_frames_and_rate_and_records_the_workflow(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    seen: list[tuple[float, str]] = []
    done = run(studio, "t2v", listener=lambda f, s: seen.append((f, s)), prompt="a paper boat on a pond", **SMALL)
    assert done.status == "succeeded", done.error_message
    video = files(studio, done)["video"]
    info = probe(video, count_frames=True)
    assert (info.video_codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 256, 160)
    assert (info.frames, round(info.fps)) == (17, 12) and not info.has_audio
    assert read_image(files(studio, done)["poster"]).shape == (160, 256, 3)
    with video.open("rb") as handle:  # +faststart: the index (moov) comes before the media (mdat)
        head = handle.read(4096)
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))

    graph = posted_graph(standin)
    assert graph["3"]["inputs"]["text"] == "a paper boat on a pond"
    assert [graph["5"]["inputs"][name] for name in ("width", "height", "length")] == [256, 160, 17]
    assert graph["9"]["inputs"]["noise_seed"] == done.recipe["seed"]
    assert graph["6"]["inputs"]["frame_rate"] == 12.0 and graph["11"]["inputs"]["fps"] == 12.0
    assert standin.posted[-1]["client_id"]  # progress is addressed to this client

    recipe = done.recipe
    assert recipe["workflow"]["sha256"] == shipped("t2v").sha256 and recipe["workflow"]["name"] == "cadenza-t2v"
    assert recipe["server"] == {"url": server.url, "comfyui_version": "0.8.1"}
    assert recipe["values"]["steps"] == 8 and recipe["values"]["width"] == 256
    sampling = [f for f, stage in seen if stage.startswith("SamplerCustom ")]
    assert len(sampling) == 8 and sampling == sorted(sampling)  # one report per denoising step, in order
    assert [s for _, s in seen if s.startswith("SamplerCustom ")][-1] == "SamplerCustom 8/8"


def test_ltx_shape_rules_round_and_say_so(studio: JobService, standin: StandIn, server: Running) -> None:
    done = run(studio, "t2v", prompt="waves", width=250, height=170, frames=20, fps=10)
    assert done.status == "succeeded", done.error_message
    info = probe(files(studio, done)["video"], count_frames=True)
    assert (info.width, info.height, info.frames) == (256, 160, 17)
    assert "250x170, 20 frames -> 256x160, 17 frames" in done.recipe["adjusted"]["shape"]


@pytest.mark.parametrize(
    ("preset", "size", "steps"), [("fast", (576, 384), 4), ("balanced", (768, 512), 8), ("quality", (960, 640), 16)]
)
def test_presets_patch_steps_and_resolution_through_the_map(
    studio: JobService, standin: StandIn, server: Running, preset: str, size: tuple[int, int], steps: int
) -> None:
    done = run(studio, "t2v", prompt="city lights", frames=9, fps=8, preset=preset)
    assert done.status == "succeeded", done.error_message
    graph = posted_graph(standin)
    assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"]) == size
    assert graph["7"]["inputs"]["steps"] == steps
    info = probe(files(studio, done)["video"])
    assert (info.width, info.height) == size and done.recipe["values"]["steps"] == steps
    assert shipped("t2v").graph["7"]["inputs"]["steps"] == 8  # the template is never patched in place


def test_i2v_uploads_the_image_under_its_content_name_and_starts_from_it(
    studio: JobService, standin: StandIn, server: Running, tmp_path: Path
) -> None:
    image = picture(tmp_path / "still.png", 320, 200, hue=30)
    upload = studio.upload_file(image)
    done = run(studio, "i2v", image=upload.id, prompt="the leaves move", **SMALL)
    assert done.status == "succeeded", done.error_message
    name = content_name(studio.settings.home / upload.path)
    assert standin.uploads == [name] and posted_graph(standin)["13"]["inputs"]["image"] == name
    first = next(read_frames(files(studio, done)["video"]))
    assert psnr(first, read_image(image, (256, 160))) > 28  # the workflow's image input is the upload
    again = run(studio, "i2v", image=upload.id, **SMALL)
    assert again.status == "succeeded" and standin.uploads == [name, name]  # same file, same name


def test_a2v_lasts_as_long_as_the_song_and_carries_it(
    studio: JobService, standin: StandIn, server: Running, tmp_path: Path
) -> None:
    audio = studio.upload_file(song(tmp_path / "song.wav", seconds=2.0))
    done = run(studio, "a2v", audio=audio.id, width=192, height=128, fps=12)
    assert done.status == "succeeded", done.error_message
    info = probe(files(studio, done)["video"], count_frames=True)
    assert info.frames == 25 and info.audio_codec == "aac"  # 2 s x 12 fps = 24 -> 25 (8k+1)
    assert abs(info.audio_duration_s - info.frames / 12) < 0.1
    assert posted_graph(standin)["15"]["inputs"]["audio"] == content_name(studio.settings.home / audio.path)


def test_lipsync_starts_from_the_face_and_carries_the_speech(
    studio: JobService, standin: StandIn, server: Running, tmp_path: Path
) -> None:
    face = picture(tmp_path / "face.png", 256, 256, hue=120)
    done = run(
        studio,
        "lipsync",
        image=studio.upload_file(face).id,
        audio=studio.upload_file(song(tmp_path / "speech.wav", 1.5)).id,
        width=128,
        height=128,
        fps=16,
    )
    assert done.status == "succeeded", done.error_message
    video = files(studio, done)["video"]
    info = probe(video, count_frames=True)
    assert info.has_audio and info.frames == 25  # 1.5 s x 16 fps = 24 -> 25
    assert psnr(next(read_frames(video)), read_image(face, (128, 128))) > 28


def test_keyframe_first_and_last_frames_are_the_guides(
    studio: JobService, standin: StandIn, server: Running, tmp_path: Path
) -> None:
    first = picture(tmp_path / "first.png", 256, 160, hue=10)
    last = picture(tmp_path / "last.png", 256, 160, hue=200)
    done = run(
        studio, "keyframe", first_frame=studio.upload_file(first).id, last_frame=studio.upload_file(last).id, **SMALL
    )
    assert done.status == "succeeded", done.error_message
    frames = list(read_frames(files(studio, done)["video"]))
    assert len(frames) == 17
    assert psnr(frames[0], read_image(first)) > 28 and psnr(frames[-1], read_image(last)) > 28
    assert psnr(frames[0], read_image(last)) < 20  # the two guides did not swap
    graph = posted_graph(standin)
    assert (graph["15"]["inputs"]["frame_idx"], graph["16"]["inputs"]["frame_idx"]) == (0, -1)


def test_style_keeps_the_sources_frames_rate_and_sound(
    studio: JobService, standin: StandIn, server: Running, tmp_path: Path
) -> None:
    source = clip(tmp_path / "source.mp4", 128, 96, frames=16, fps=8)
    done = run(studio, "style", video=studio.upload_file(source).id, prompt="inverted film look")
    assert done.status == "succeeded", done.error_message
    video = files(studio, done)["video"]
    info = probe(video, count_frames=True)
    assert (info.width, info.height, info.frames, round(info.fps)) == (128, 96, 16, 8) and info.has_audio
    made, original = list(read_frames(video)), list(read_frames(source))
    assert np.mean([psnr(m, 255 - o) for m, o in zip(made, original, strict=True)]) > 28


def test_music_generate_runs_the_ace_step_workflow(studio: JobService, standin: StandIn, server: Running) -> None:
    done = run(
        studio,
        "generate",
        prompt="warm jazz trio",
        duration=6,
        bpm=96,
        key="A minor",
        time_signature="3/4",
        lyrics="[Verse]\nla la",
    )
    assert done.status == "succeeded", done.error_message
    audio, rate = sf.read(files(studio, done)["mix"])
    assert rate == 44100 and abs(len(audio) / rate - 6.0) < 0.01
    encoder = posted_graph(standin)["2"]["inputs"]
    assert (encoder["tags"], encoder["bpm"], encoder["keyscale"], encoder["timesignature"]) == (
        "warm jazz trio",
        96,
        "A minor",
        "3",
    )
    assert encoder["lyrics"].startswith("[Verse]") and posted_graph(standin)["4"]["inputs"]["seconds"] == 6.0
    assert encoder["seed"] == posted_graph(standin)["5"]["inputs"]["seed"] == done.recipe["seed"]


def test_a_video_in_another_codec_is_converted_to_h264(studio: JobService, standin: StandIn, server: Running) -> None:
    standin.behaviour.video_codec = "mpeg4"
    done = run(studio, "t2v", prompt="snow", **SMALL)
    assert done.status == "succeeded", done.error_message
    info = probe(files(studio, done)["video"], count_frames=True)
    assert (info.video_codec, info.pix_fmt, info.frames) == ("h264", "yuv420p", 17)
    assert done.recipe["outputs"][0]["reencoded"] is True


def test_cancel_mid_run_interrupts_the_running_prompt(studio: JobService, standin: StandIn, server: Running) -> None:
    standin.behaviour.step_seconds = 0.2
    sampling = threading.Event()
    job = studio.submit(task="t2v", engine="comfyui", input={"prompt": "rain", **SMALL}, enqueue=False)
    result = {}

    def listener(fraction: float, stage: str) -> None:
        if stage.startswith("SamplerCustom 2/"):
            sampling.set()

    worker = threading.Thread(
        target=lambda: result.update(job=run_job(studio.settings, studio.store, job.id, listener=listener))
    )
    worker.start()
    assert sampling.wait(30)
    studio.cancel(job.id)
    worker.join(30)
    assert result["job"].status == "cancelled"
    (prompt_id,) = standin.interrupted
    deadline = time.monotonic() + 10
    while prompt_id not in standin.history and time.monotonic() < deadline:
        time.sleep(0.05)
    assert standin.history[prompt_id]["status"]["status_str"] == "error"  # the server stopped it
    assert standin.history[prompt_id]["status"]["messages"][-1][0] == "execution_interrupted"


def test_cancel_while_queued_deletes_the_pending_prompt(studio: JobService, standin: StandIn, server: Running) -> None:
    standin.behaviour.hold = True
    cancel = threading.Event()
    result = {}
    worker = threading.Thread(target=lambda: result.update(job=run(studio, "t2v", cancel=cancel, prompt="x", **SMALL)))
    worker.start()
    deadline = time.monotonic() + 20
    while not standin.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert standin.pending
    cancel.set()
    worker.join(30)
    assert result["job"].status == "cancelled"
    assert standin.pending == [] and standin.history == {} and not standin.interrupted


def test_execution_error_names_node_class_and_exception(studio: JobService, standin: StandIn, server: Running) -> None:
    standin.behaviour.fail_class = "VAEDecode"
    done = run(studio, "t2v", prompt="x", **SMALL)
    assert done.status == "failed" and done.error_category == "engine"
    assert "node 10 (VAEDecode)" in done.error_message and "out of memory" in done.error_message
    assert "torch.OutOfMemoryError" in done.error_message


def test_a_dropped_socket_is_reconnected_and_the_job_finishes(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    standin.behaviour.drop_socket_at_step = 3
    seen: list[str] = []
    done = run(studio, "t2v", listener=lambda f, s: seen.append(s), prompt="x", **SMALL)
    assert done.status == "succeeded", done.error_message
    assert standin.connections == 2  # the first socket, then the reconnect
    assert probe(files(studio, done)["video"], count_frames=True).frames == 17


def test_a_prompt_the_server_lost_fails_with_that_reason(studio: JobService, standin: StandIn, server: Running) -> None:
    standin.behaviour.forget_at_step = 2
    done = run(studio, "t2v", prompt="x", **SMALL)
    assert done.status == "failed"
    assert "lost prompt" in done.error_message and "restarted" in done.error_message


def test_a_rejected_workflow_is_an_input_error_listing_each_nodes_problems(
    studio: JobService, standin: StandIn, server: Running, tmp_path: Path
) -> None:
    import json

    from cadenza.engines.comfyui.library import Library

    graph = json.loads(json.dumps(shipped("t2v").graph))
    graph["9"]["inputs"]["cfg"] = 500.0  # SamplerCustom's cfg is at most 100
    graph["5"]["inputs"]["batch_size"] = 0  # at least 1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(graph))
    Library(studio.settings.workflows_dir).add(path, "t2v", "bad")
    done = run(studio, "t2v", prompt="x", advanced={"workflow": "bad"}, **SMALL)
    assert done.status == "failed" and done.error_category == "input"
    assert "node 9 (SamplerCustom): Value 500.0 bigger than max of 100.0" in done.error_message
    assert "node 5 (EmptyLTXVLatentVideo): Value 0 smaller than min of 1" in done.error_message


def test_a_user_workflow_with_an_explicit_map(
    studio: JobService, standin: StandIn, server: Running, tmp_path: Path
) -> None:
    """Node ids of a re-exported workflow, and a prompt encoder the class rules cannot place (it feeds a
    combine node, not a sampler's positive input): the explicit map says where the prompt goes."""
    import json

    from cadenza.engines.comfyui.library import Library

    graph = {str(int(k) + 230): v for k, v in json.loads(json.dumps(shipped("t2v").graph)).items()}
    for node in graph.values():
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                node["inputs"][name] = [str(int(value[0]) + 230), value[1]]
    graph["250"] = {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["233", 0]}}
    graph["236"]["inputs"]["positive"] = ["250", 0]  # the prompt now reaches the sampler through node 250
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(graph))
    library = Library(studio.settings.workflows_dir)
    assert "prompt" not in library.add(path, "t2v", "unmapped").parameters
    workflow = library.add(path, "t2v", "mine", ["prompt=233.text", "seed=239.noise_seed"])
    assert workflow.parameters["prompt"] == [("233", "text")] and "prompt -> 233.text" in workflow.mapping_text()[4]

    done = run(studio, "t2v", prompt="a lighthouse at night", advanced={"workflow": "mine"}, **SMALL)
    assert done.status == "succeeded", done.error_message
    assert posted_graph(standin)["233"]["inputs"]["text"] == "a lighthouse at night"
    assert done.recipe["workflow"]["map"]["prompt"] == ["233.text"] and done.recipe["workflow"]["name"] == "mine"
    assert probe(files(studio, done)["video"], count_frames=True).frames == 17


def test_a_missing_model_fails_the_job_at_submission_with_the_list(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    standin.missing_models = {"ltxv-2b-0.9.8-distilled.safetensors"}
    with pytest.raises(EngineUnavailable) as caught:
        studio.submit(task="t2v", engine="comfyui", input={"prompt": "x"}, enqueue=False)
    assert "model file 'ltxv-2b-0.9.8-distilled.safetensors' (ckpt_name) is not on the server" in caught.value.message
    assert standin.posted == []  # nothing was queued


def test_the_proxy_header_is_sent_on_http_and_the_socket(
    studio: JobService, standin: StandIn, server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadenza.engines.comfyui.engine import ComfyUIEngine

    standin.behaviour.required_header = ("X-Token", "s3cret")
    ok, reason = ComfyUIEngine().available()
    assert not ok and "CADENZA_COMFYUI_HEADER" in reason
    monkeypatch.setenv("CADENZA_COMFYUI_HEADER", "X-Token: s3cret")
    ok, reason = ComfyUIEngine().available()
    assert ok, reason
    done = run(studio, "t2v", prompt="x", **SMALL)
    assert done.status == "succeeded", done.error_message


def test_availability_shows_version_devices_and_queue(server: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    from cadenza.engines.comfyui.engine import ComfyUIEngine

    ok, reason = ComfyUIEngine().available()
    assert ok and "ComfyUI 0.8.1" in reason and "Stand-in GPU" in reason and "20 of 24 GB free" in reason
    assert "queue: 0 running, 0 pending" in reason
    monkeypatch.setenv("CADENZA_COMFYUI_URL", "http://127.0.0.1:9")  # nothing listens there
    ok, reason = ComfyUIEngine().available()
    assert not ok and "cannot reach the ComfyUI server at http://127.0.0.1:9" in reason


def test_a_run_past_its_budget_is_stopped_on_the_server_and_retried_once(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    standin.behaviour.step_seconds = 0.4  # 8 steps: about 3.2 s of sampling against a 1.5 s budget
    done = run(studio, "t2v", prompt="slow tide", advanced={"time_budget_s": 1.5}, **SMALL)
    assert done.status == "failed" and done.error_category == "timeout", done.error_message
    assert done.retries == 1 and done.budget_s == 3.0
    assert done.retry_reason.startswith("timeout: ran past its time budget of 1.5 s")
    assert len(standin.interrupted) == 2  # each run's prompt was stopped on the server, not left running

    standin.behaviour.step_seconds = 0.0
    quick = run(studio, "t2v", prompt="slow tide", advanced={"time_budget_s": 30}, **SMALL)
    assert quick.status == "succeeded" and quick.retries == 0
