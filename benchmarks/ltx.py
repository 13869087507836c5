"""`make bench-neural` (LTX part): time per denoising step of the ltx engine against a plain diffusers
call on the same weights, on CPU with the tiny test model; and, when CUDA is present, LTX-Video at
768x512, 121 frames with random weights at the 2B distilled model's size, per preset.

The CPU figure says what the engine adds around the pipeline (progress and cancel per step, reading
and writing frames, the MP4), not what a real model costs: the tiny model's steps take milliseconds.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine, write_section

CPU_SHAPE = {"width": 96, "height": 64, "frames": 17}
GPU_SHAPE = {"width": 768, "height": 512, "frames": 121}
GPU_NOTE = (
    "Not measured: no CUDA GPU was lent to this run. The GPU section (LTX-Video at 768x512, 121 frames,\n"
    "random weights at the 2B distilled model's size, per preset) is written by `make bench-neural` on one."
)


def _tiny_models() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.engines import tiny_models

    return tiny_models


def distilled_sized(folder: Path) -> Path:
    """An LTXPipeline with the 2B distilled transformer's widths (28 layers, 32 heads x 64), the released
    VAE's defaults, and a one-layer 4096-wide T5 (text encoding is a small share of a run)."""
    import torch
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline
    from transformers import T5Config, T5EncoderModel

    tiny = _tiny_models()
    torch.manual_seed(0)
    tokenizer = tiny._t5_tokenizer()
    text = T5EncoderModel(T5Config(vocab_size=tokenizer.vocab_size, d_model=4096, d_kv=64, d_ff=1024,
                                   num_layers=1, num_heads=64))  # fmt: skip
    transformer = tiny.ltx_video_transformer(layers=28, heads=32, head_dim=64, caption=4096)
    pipeline = LTXPipeline(transformer=transformer, vae=AutoencoderKLLTXVideo(), text_encoder=text,
                           tokenizer=tokenizer, scheduler=FlowMatchEulerDiscreteScheduler())  # fmt: skip
    pipeline.save_pretrained(folder)
    return folder


def per_step(model: Path, device: str, shape: dict, preset: str, scratch: Path) -> dict[str, Any]:
    """Seconds per denoising step: a plain pipeline call, then the engine, on the same weights."""
    from diffusers import LTXPipeline

    from cadenza.engines.base import RunContext
    from cadenza.engines.devices import dtype_for
    from cadenza.engines.ltx import LtxEngine
    from cadenza.engines.ltx.shapes import PRESETS
    from cadenza.tasks.video import T2VRequest

    steps = PRESETS[preset].steps
    plain = LTXPipeline.from_pretrained(model, dtype=dtype_for(device)).to(device)
    plain.set_progress_bar_config(disable=True)
    stamps: list[float] = []

    def call() -> float:
        stamps.clear()
        start = time.perf_counter()
        plain("a red fox", width=shape["width"], height=shape["height"], num_frames=shape["frames"],
              num_inference_steps=steps, guidance_scale=1.0, output_type="np", max_sequence_length=64,
              callback_on_step_end=lambda *_a: stamps.append(time.perf_counter()) or {})  # fmt: skip
        return time.perf_counter() - start

    call()  # warm-up
    plain_wall = call()
    plain_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    engine_stamps: list[float] = []

    def progress(_fraction: float, stage: str) -> None:
        if stage == "denoise":
            engine_stamps.append(time.perf_counter())

    request = T2VRequest(prompt="a red fox", **shape, preset=preset, advanced={"model": str(model)})
    LtxEngine().run(request, RunContext(seed=1, scratch=scratch / "warm", device=device))  # load once
    (scratch / "run").mkdir(exist_ok=True)
    start = time.perf_counter()
    LtxEngine().run(request, RunContext(seed=1, scratch=scratch / "run", device=device, on_progress=progress))
    engine_wall = time.perf_counter() - start
    engine_step = (engine_stamps[-1] - engine_stamps[0]) / (len(engine_stamps) - 1)
    return {
        "steps": steps,
        "plain_s_per_step": round(plain_step, 4),
        "engine_s_per_step": round(engine_step, 4),
        "plain_wall_s": round(plain_wall, 2),
        "engine_wall_s": round(engine_wall, 2),
        "engine_over_plain_wall": round(engine_wall / plain_wall, 2),
    }


def main() -> dict[str, Any]:
    import torch

    work = Path(tempfile.mkdtemp(prefix="cadenza-bench-ltx-"))
    for name in ("warm", "run"):
        (work / name).mkdir()
    tiny = _tiny_models().tiny_ltx_video(work / "tiny-ltx")
    cpu = per_step(tiny, "cpu", CPU_SHAPE, "balanced", work)
    results: dict[str, Any] = {"cpu-tiny": cpu}
    shape = f"{CPU_SHAPE['width']}x{CPU_SHAPE['height']}, {CPU_SHAPE['frames']} frames"
    engine_figures = f"{cpu['engine_s_per_step']} | {cpu['engine_wall_s']}"
    write_section(
        "LTX on CPU (the tiny test model)",
        f"""
Machine: {machine()}, torch {torch.__version__}, float32. `make bench-neural` (or `python -m benchmarks.ltx`).
Model: the tests' tiny random LTX-Video (1 transformer layer, 4 heads x 8, 8-channel VAE), t2v at
{shape}, preset balanced ({cpu["steps"]} steps), after a warm-up.

| | seconds per denoising step | wall seconds |
|---|---|---|
| plain `LTXPipeline` call | {cpu["plain_s_per_step"]} | {cpu["plain_wall_s"]} |
| Cadenza's ltx engine (progress + cancel per step, MP4, poster, recipe) | {engine_figures} |
| ratio engine / plain (wall) | | {cpu["engine_over_plain_wall"]} |

The tiny model says what the engine adds around the pipeline, not what a real model costs.
{GPU_NOTE if not torch.cuda.is_available() else ""}
""",
    )
    if torch.cuda.is_available():
        model = distilled_sized(work / "ltx-2b-sized")
        rows = []
        for preset in ("fast", "balanced", "quality"):
            torch.cuda.reset_peak_memory_stats()
            figures = per_step(model, "cuda", GPU_SHAPE, preset, work)
            figures["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            results[f"cuda-{preset}"] = figures
            cells = [f"{preset} ({figures['steps']} steps)", figures["engine_s_per_step"], figures["engine_wall_s"],
                     figures["engine_over_plain_wall"], figures["peak_gpu_gb"]]  # fmt: skip
            rows.append("| " + " | ".join(str(cell) for cell in cells) + " |")
        table = "\n".join(rows)
        write_section(
            "LTX-Video on GPU (768x512, 121 frames, 2B distilled-sized random weights)",
            f"""
GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, bf16, after a warm-up. quality runs one
stage at full size here (no upsampler model in the benchmark).

| preset | engine s per step | engine wall s | engine / plain | peak GPU memory, GB |
|---|---|---|---|---|
{table}
""",
        )
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
