"""IC-LoRA (in-context LoRA) on the ltx engine: a tiny random LTX-2 pipeline built here, a tiny IC-LoRA made
with PEFT on its transformer, and control videos written here; style jobs through the job service (and
one through the CLI), measured on the decoded frames of the MP4s they write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("peft")
pytest.importorskip("diffusers")

from cadenza.errors import InputError
from cadenza.jobs.service import JobService
from cadenza.jobs.worker import run_job
from cadenza.loras.store import LoraStore
from cadenza.media.video import VideoWriter, read_frames
from tests.conftest import job_service
from tests.engines.tiny_models import tiny_ltx2, tiny_ltx_video
from tests.loras.adapters import make_adapter, synthetic_adapter

pytestmark = pytest.mark.slow
WIDTH, HEIGHT, FRAMES, FPS, STEPS = 96, 64, 9, 24, 2
TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def write_video(path: Path, frame: Any) -> Path:
    """A 9-frame clip at 24 fps whose frame i is `frame(i)`, (HEIGHT, WIDTH, 3) uint8."""
    with VideoWriter(path, WIDTH, HEIGHT, FPS) as video:
        for index in range(FRAMES):
            video.write(frame(index))
    return path


def square(index: int) -> np.ndarray:
    """A pose-like control: a white square walking left to right over black."""
    picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    left = 4 + index * 4
    picture[20:44, left : left + 24] = 255
    return picture


def stripes(index: int) -> np.ndarray:
    """Another control: bright vertical stripes sliding the other way."""
    columns = (np.arange(WIDTH) + 3 * index) // 8 % 2
    return np.broadcast_to((columns * 230 + 20).astype(np.uint8)[None, :, None], (HEIGHT, WIDTH, 3)).copy()


def source(index: int) -> np.ndarray:
    rng = np.random.default_rng(index)
    return (rng.integers(0, 60, (HEIGHT, WIDTH, 3)) + np.array([40, 90, 140])).astype(np.uint8)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A data dir with the tiny LTX-2 and LTX-Video models, an IC-LoRA ('pose'), a plain LoRA ('look') and a
    second IC-LoRA ('edges'), a source clip and two control clips uploaded."""
    from diffusers import LTX2VideoTransformer3DModel

    root = tmp_path_factory.mktemp("ic")
    model = tiny_ltx2(root / "models" / "tiny-ltx2")
    other = tiny_ltx_video(root / "models" / "tiny-ltx-video")
    transformer = LTX2VideoTransformer3DModel.from_pretrained(model / "transformer")
    studio = job_service(root / "home")
    store = LoraStore(studio.settings.home)
    pose = make_adapter(transformer, root / "tiny-ic-lora-pose-control.safetensors", TARGETS, seed=1,
                        prefix="transformer.", metadata={"reference_downscale_factor": "1"})  # fmt: skip
    store.add(pose, name="pose")
    make_adapter(transformer, root / "look.safetensors", ["proj_out", "to_out.0"], seed=2, prefix="transformer.")
    store.add(root / "look.safetensors", name="look", engine="ltx")
    make_adapter(transformer, root / "edges.safetensors", TARGETS, seed=3, prefix="transformer.")
    store.add(root / "edges.safetensors", name="edges", engine="ltx", control="canny")
    uploads = {
        name: studio.upload_file(write_video(root / f"{name}.mp4", frame)).id
        for name, frame in (("source", source), ("square", square), ("stripes", stripes))
    }
    return {"root": root, "model": model, "other": other, "studio": studio, "store": store, "runs": {}, **uploads}


def style_input(world: dict[str, Any], control: str | None, loras: list[tuple[str, float]], **advanced: Any):
    fields: dict[str, Any] = {"video": world["source"], "prompt": "a dancer in the rain", "width": WIDTH,
                              "height": HEIGHT, "seed": 4, "preset": "fast"}  # fmt: skip
    if control:
        fields["control"] = world[control]
    chosen = [{"name": name, "weight": weight} for name, weight in loras]
    fields["advanced"] = {"model": str(advanced.pop("model", world["model"])), "steps": STEPS, **advanced}
    if chosen:
        fields["advanced"]["loras"] = chosen
    return fields


def run(studio: JobService, task: str, fields: dict[str, Any]) -> tuple[np.ndarray, Any]:
    job = studio.submit(task=task, engine="ltx", input=fields, enqueue=False)
    done = run_job(studio.settings, studio.store, job.id)
    assert done.status == "succeeded", done.error_message
    video = next(a for a in done.artifacts if a.kind == "video")
    return np.stack(list(read_frames(studio.settings.home / video.path))).astype(np.float32), done


def style(world: dict[str, Any], control: str | None, loras: list[tuple[str, float]], **advanced: Any):
    """A style job's decoded frames and its record; the same request twice in this module runs once (the
    tests that need a second run, a replay or a job after another, call `run`)."""
    fields = style_input(world, control, loras, **advanced)
    key = json.dumps(fields, sort_keys=True)
    if key not in world["runs"]:
        world["runs"][key] = run(world["studio"], "style", fields)
    return world["runs"][key]


def test_an_ic_lora_is_known_by_its_metadata_its_name_or_what_the_person_says(tmp_path: Path) -> None:
    store = LoraStore(tmp_path / "home")
    ltx2 = {f"transformer_blocks.0.{part}.to_q": (16, 16) for part in ("attn1", "audio_attn1")}
    scaled = synthetic_adapter(tmp_path / "union.safetensors", ltx2, metadata={"reference_downscale_factor": "2"})
    record = store.add(scaled, name="union")
    assert (record.kind, record.reference_downscale_factor, record.base_model) == ("ic-lora", 2, "ltx-2")
    named = synthetic_adapter(tmp_path / "ltx-2-19b-ic-lora-depth-control.safetensors", ltx2, seed=1)
    record = store.add(named)
    assert (record.kind, record.control, record.reference_downscale_factor) == ("ic-lora", "depth", 1)
    assert store.add(named, name="not-ic", kind="lora").kind == "lora"  # --plain: the name was wrong
    plain = synthetic_adapter(tmp_path / "film-grain.safetensors", ltx2, seed=2)
    assert store.add(plain).kind == "lora"
    assert store.add(plain, name="grain-ic", control="pose").kind == "ic-lora"  # the person says so
    music = synthetic_adapter(tmp_path / "m.safetensors", {"decoder.layers.0.self_attn.q_proj": (32, 32)}, seed=3)
    with pytest.raises(InputError, match="MusicGen decoder LoRA, not an IC-LoRA"):
        store.add(music, kind="ic-lora")
    odd = synthetic_adapter(tmp_path / "odd.safetensors", ltx2, metadata={"reference_downscale_factor": "1.5"})
    with pytest.raises(InputError, match=r"reference_downscale_factor='1\.5'.*whole number from 1 to 8"):
        store.add(odd)

    def cadenza(*args: str) -> subprocess.CompletedProcess:
        environment = {**os.environ, "CADENZA_HOME": str(tmp_path / "cli-home"), "COLUMNS": "200"}
        return subprocess.run([sys.executable, "-m", "cadenza", *args], capture_output=True, text=True, env=environment)

    added = cadenza("loras", "add", str(plain), "--name", "walk", "--control", "pose", "--json")
    assert added.returncode == 0, added.stderr
    assert (json.loads(added.stdout)["kind"], json.loads(added.stdout)["control"]) == ("ic-lora", "pose")
    listed = cadenza("loras", "list")
    assert "ic-lora (pose)" in listed.stdout + listed.stderr  # the table goes to the console (stderr)


def test_the_control_video_steers_the_frames(world: dict[str, Any]) -> None:
    following_square, done = style(world, "square", [("pose", 1.0)])
    following_stripes, _ = style(world, "stripes", [("pose", 1.0)])
    plain_style, _ = style(world, None, [])  # no adapter: LTX-2 conditioned on the source's own pixels
    assert following_square.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert np.abs(following_square - following_stripes).mean() > 1.0  # on the 0-255 scale; measured 3.9
    assert np.abs(following_square - plain_style).mean() > 1.0
    recipe = done.recipe["in_context"]
    assert recipe["pipeline"] == "LTX2InContextPipeline" and recipe["adapter"] == "pose"
    assert recipe["sha256"] == world["store"].get("pose").sha256 and recipe["reference_downscale_factor"] == 1
    assert recipe["control"] == {"name": recipe["control"]["name"], "frames": FRAMES, "width": WIDTH, "height": HEIGHT}


def direct_in_context(world: dict[str, Any], path: Path) -> np.ndarray:
    """The same request through diffusers' LTX2InContextPipeline itself, no adapter, written and decoded as the
    engine writes its MP4: the peer a weight of 0 must equal."""
    import torch
    from diffusers import LTX2InContextPipeline
    from diffusers.pipelines.ltx2.pipeline_ltx2_ic_lora import LTX2ReferenceCondition
    from PIL import Image

    from cadenza.engines.ltx.engine import _uint8_frames

    pipeline = LTX2InContextPipeline.from_pretrained(world["model"])
    pipeline.set_progress_bar_config(disable=True)
    # the control as the engine reads it: the uploaded clip decoded at the output's size
    control = [Image.fromarray(f) for f in read_frames(world["root"] / "square.mp4", size=(WIDTH, HEIGHT))]
    frames = pipeline(
        prompt="a dancer in the rain", negative_prompt=None, num_frames=FRAMES, frame_rate=FPS, guidance_scale=1.0,
        generator=torch.Generator().manual_seed(4), max_sequence_length=64, width=WIDTH, height=HEIGHT,
        num_inference_steps=STEPS, output_type="np", reference_conditions=[LTX2ReferenceCondition(control, 1.0)],
        reference_downscale_factor=1,
    ).frames[0]  # fmt: skip
    with VideoWriter(path, WIDTH, HEIGHT, FPS, preset="fast") as video:
        for frame in _uint8_frames(frames):
            video.write(frame)
    return np.stack(list(read_frames(path))).astype(np.float32)


def test_weight_zero_is_the_plain_in_context_model_and_a_job_after_it_is_plain_again(world: dict[str, Any]) -> None:
    before, _ = style(world, None, [])
    off, _ = style(world, "square", [("pose", 0.0)])
    on, _ = style(world, "square", [("pose", 1.0)])
    after, _ = run(world["studio"], "style", style_input(world, None, []))
    peer = direct_in_context(world, world["root"] / "peer.mp4")
    assert np.array_equal(off, peer) and np.abs(on - peer).mean() > 1.0  # measured: 0 and 14 (0-255 scale)
    assert np.array_equal(after, before)  # the IC-LoRA came off the cached pipeline


def test_the_recipe_replays_to_the_same_frames(world: dict[str, Any]) -> None:
    first, done = style(world, "square", [("pose", 0.8), ("look", 0.5)], control_strength=0.9)
    assert done.recipe["in_context"]["strength"] == 0.9
    replayed, again = run(world["studio"], "style", done.recipe["request"])
    assert np.array_equal(replayed, first)
    video = {a.kind: a.sha256 for a in again.artifacts}["video"]
    assert video == {a.kind: a.sha256 for a in done.artifacts}["video"]


def test_an_ic_lora_that_cannot_work_is_refused_before_it_runs(world: dict[str, Any]) -> None:
    studio = world["studio"]

    def refused(task: str, fields: dict[str, Any]) -> str:
        with pytest.raises(InputError) as error:
            studio.submit(task=task, engine="ltx", input=fields, enqueue=False)
        return error.value.message

    message = refused("style", style_input(world, None, [("pose", 1.0)]))
    assert "'pose' is an IC-LoRA" in message and "control" in message
    t2v = {"prompt": "x", "width": WIDTH, "height": HEIGHT, "frames": FRAMES,
           "advanced": {"model": str(world["model"]), "loras": [{"name": "edges"}]}}  # fmt: skip
    assert "only the style task" in refused("t2v", t2v) and "canny" in refused("t2v", t2v)
    other = refused("style", style_input(world, "square", [("pose", 1.0)], model=world["other"]))
    assert "'pose'" in other and "LTX-Video" in other and "LTX-2" in other
    both = refused("style", style_input(world, "square", [("pose", 1.0), ("edges", 1.0)]))
    assert "both IC-LoRAs" in both
    assert "only by an IC-LoRA" in refused("style", style_input(world, "square", []))
    assert "only by an IC-LoRA" in refused("style", style_input(world, "square", [("look", 1.0)]))


def test_a_control_read_at_a_size_that_breaks_the_shape_rules_fails_the_job_as_an_input_error(
    world: dict[str, Any],
) -> None:
    """An IC-LoRA trained at half resolution reads the control at 48x32 for a 96x64 video: 48 is no multiple of 32."""
    from diffusers import LTX2VideoTransformer3DModel

    root, studio = world["root"], world["studio"]
    transformer = LTX2VideoTransformer3DModel.from_pretrained(world["model"] / "transformer")
    half = make_adapter(transformer, root / "half.safetensors", TARGETS, seed=5, prefix="transformer.",
                        metadata={"reference_downscale_factor": "2"})  # fmt: skip
    world["store"].add(half, name="half")
    job = studio.submit(task="style", engine="ltx", input=style_input(world, "square", [("half", 1.0)]), enqueue=False)
    done = run_job(studio.settings, studio.store, job.id)
    assert done.status == "failed" and done.error_category == "input"
    assert "1/2 of the output size" in done.error_message and "multiples of 64" in done.error_message


def test_the_cli_runs_an_ic_lora_style_job(world: dict[str, Any], tmp_path: Path) -> None:
    """`cadenza video style SOURCE --control CONTROL --lora NAME --engine ltx`: the same frames as the service."""
    expected, _ = style(world, "stripes", [("pose", 1.0)])
    home = world["studio"].settings.home
    command = [sys.executable, "-m", "cadenza", "video", "style", world["source"], "--control", world["stripes"],
               "--lora", "pose:1", "--engine", "ltx", "--model", str(world["model"]), "--prompt",
               "a dancer in the rain", "--width", str(WIDTH), "--height", str(HEIGHT), "--seed", "4", "--preset",
               "fast", "--advanced", json.dumps({"steps": STEPS}), "--out", str(tmp_path), "--json"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "CADENZA_HOME": str(home)})  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(result.stdout)
    video = next(Path(a["path"]) for a in report["artifacts"] if a["role"] == "video")
    assert np.array_equal(np.stack(list(read_frames(video))).astype(np.float32), expected)
    without_adapter = [arg for arg in command if arg not in ("--lora", "pose:1")]
    refused = subprocess.run(without_adapter, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "CADENZA_HOME": str(home)})  # fmt: skip
    assert refused.returncode == 2 and "only by an IC-LoRA" in refused.stdout + refused.stderr
