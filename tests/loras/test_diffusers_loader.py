"""Adapters through diffusers' own LoRA loader (`load_lora_weights` / `set_adapters` / `unload_lora_weights`),
on a tiny random LTX-Video pipeline: directly, and through the `ltx` engine and the job service."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("peft")
pytest.importorskip("diffusers")

from cadenza.loras.apply import attached, attached_pipeline
from cadenza.loras.choices import LoraFile, resolve_loras
from cadenza.loras.fit import LoraTarget
from cadenza.loras.store import LoraStore
from tests.loras.adapters import make_adapter

pytestmark = pytest.mark.slow
LTX_ENGINE = SimpleNamespace(name="ltx", lora_families=("ltx",))  # the engine's adapter contract, nothing more


def tiny_ltx(folder: Path) -> Any:
    """The ltx engine tests' tiny LTX-Video pipeline, loaded back as the engine loads it (eval mode)."""
    from diffusers import LTXPipeline

    from tests.engines.tiny_models import tiny_ltx_video

    return LTXPipeline.from_pretrained(tiny_ltx_video(folder))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, LoraStore, LoraTarget]:
    root = tmp_path_factory.mktemp("ltx")
    pipeline = tiny_ltx(root / "tiny-ltx")
    store = LoraStore(root / "home")
    for name, seed, targets in (("style", 1, ["to_q", "to_k", "to_v"]), ("motion", 2, ["to_out.0", "proj_out"])):
        make_adapter(pipeline.transformer, root / f"{name}.safetensors", targets, seed=seed, prefix="transformer.")
        store.add(root / f"{name}.safetensors", name=name, engine="ltx")  # width 32 alone cannot say which DiT
    files = tuple(sorted((root / "tiny-ltx" / "transformer").glob("*.safetensors")))
    return pipeline, store, LoraTarget("tiny-ltx", files)


def adapters(setup: tuple[Any, LoraStore, LoraTarget], *chosen: tuple[str, float]) -> list[LoraFile]:
    _pipeline, store, target = setup
    advanced = {"loras": [{"name": name, "weight": weight} for name, weight in chosen]}
    return resolve_loras(store.root.parent, LTX_ENGINE, advanced, target)


def video(pipeline: Any) -> np.ndarray:
    import torch

    generator = torch.Generator().manual_seed(3)
    return pipeline(
        "a misty forest", height=32, width=32, num_frames=9, num_inference_steps=2, generator=generator,
        output_type="np",
    ).frames[0]  # fmt: skip


def test_load_weight_combine_and_unload_with_diffusers_loader(setup: tuple[Any, LoraStore, LoraTarget]) -> None:
    pipeline = setup[0]
    plain = video(pipeline)
    with attached_pipeline(pipeline, adapters(setup, ("style", 0.0))):
        off = video(pipeline)
    with attached_pipeline(pipeline, adapters(setup, ("style", 1.0))):
        style = video(pipeline)
    with attached_pipeline(pipeline, adapters(setup, ("style", 1.0), ("motion", 1.0))):
        both = video(pipeline)
    after = video(pipeline)
    assert np.array_equal(off, plain) and np.array_equal(after, plain)
    assert np.abs(style - plain).mean() > 1e-4 and np.abs(both - style).mean() > 1e-4
    assert not any("lora" in name for name, _ in pipeline.transformer.named_parameters())


def test_diffusers_loader_and_peft_attach_give_the_same_frames(setup: tuple[Any, LoraStore, LoraTarget]) -> None:
    pipeline = setup[0]
    chosen = adapters(setup, ("style", 0.7), ("motion", 0.4))
    with attached_pipeline(pipeline, chosen):
        through_diffusers = video(pipeline)
    with attached(pipeline.transformer, chosen):
        through_peft = video(pipeline)
    assert np.allclose(through_diffusers, through_peft, atol=1e-5)


def test_the_ltx_engine_applies_pins_and_unloads_adapters(
    setup: tuple[Any, LoraStore, LoraTarget], tmp_path: Path
) -> None:
    """Through the job service and worker: decoded frames of the MP4 with the adapter at 0, at 1, and after."""
    from cadenza.config import Settings
    from cadenza.jobs.db import ensure_schema
    from cadenza.jobs.service import JobService
    from cadenza.jobs.store import Store
    from cadenza.jobs.worker import run_job
    from cadenza.media.video import read_frames

    _pipeline, store, target = setup
    model = target.files[0].parent.parent
    settings = Settings(home=store.root.parent)
    ensure_schema(settings.database)
    studio = JobService(settings, Store(settings.database))

    def frames(*chosen: tuple[str, float]) -> tuple[np.ndarray, dict[str, Any]]:
        advanced: dict[str, Any] = {"model": str(model), "steps": 2}
        if chosen:
            advanced["loras"] = [{"name": name, "weight": weight} for name, weight in chosen]
        fields = {"prompt": "a misty forest", "width": 64, "height": 64, "frames": 9, "seed": 4, "preset": "fast"}
        job = studio.submit(task="t2v", engine="ltx", input={**fields, "advanced": advanced}, enqueue=False)
        done = run_job(settings, studio.store, job.id)
        assert done.status == "succeeded", done.error_message
        video = next(a for a in done.artifacts if a.kind == "video")
        return np.stack(list(read_frames(settings.home / video.path))).astype(np.float32), done.recipe

    plain, _ = frames()
    off, _ = frames(("style", 0.0))
    on, recipe = frames(("style", 1.0), ("motion", 0.5))
    after, _ = frames()
    assert np.array_equal(off, plain) and np.array_equal(after, plain)
    assert np.abs(on - plain).mean() > 0.5  # on the 0-255 scale of the decoded frames
    pinned = recipe["request"]["advanced"]["loras"]
    assert [(p["name"], p["weight"], p["sha256"]) for p in pinned] == [
        ("style", 1.0, store.get("style").sha256), ("motion", 0.5, store.get("motion").sha256)]  # fmt: skip
