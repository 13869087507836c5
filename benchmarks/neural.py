"""`make bench-neural`: MusicGen decoding speed and peak memory with musicgen-sized random weights.

The weights are random but the architectures are the real ones (musicgen-small: T5-base text encoder,
a 24-layer 1024-wide decoder over 4 codebooks of 2048, the 32 kHz EnCodec; musicgen-medium: a 48-layer
1536-wide decoder), so the cost per decoding step is the real one. Cadenza's engine (progress and
cancel hooks, windowing, writing the file) is timed against a plain `model.generate` call on the same
model in the same run. On CPU: musicgen-small, float32, a few seconds of audio. On a CUDA GPU:
16 s of audio at musicgen-small and musicgen-medium sizes in bf16.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine, write_section

CPU_SECONDS = float(os.environ.get("CADENZA_BENCH_NEURAL_SECONDS", "4"))
GPU_SECONDS = 16.0
PROMPT = "lofi hip hop, warm rhodes"
GPU_NOTE = (
    "No CUDA GPU in this run: the GPU section (16 s at musicgen-small and -medium sizes in bf16) is\n"
    "written by a run on one."
)


def sized_model(folder: Path, size: str) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.engines import tiny_models

    return tiny_models.random_musicgen(folder, getattr(tiny_models, size.upper()))


def _synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def measure(folder: Path, device: str, seconds: float, scratch: Path) -> dict[str, Any]:
    """Seconds per second of audio: plain generate, then the engine, on the same weights and device."""
    import torch

    from cadenza.engines.base import RunContext
    from cadenza.engines.musicgen import MusicgenEngine, _load
    from cadenza.models.resolve import resolve
    from cadenza.tasks import GenerateRequest

    model, processor = _load(resolve(str(folder)), device)
    parameters = sum(p.numel() for p in model.parameters()) / 1e6
    inputs = {k: v.to(device) for k, v in processor(text=[PROMPT], padding=True, return_tensors="pt").items()}

    def plain(audio_seconds: float) -> float:
        _synchronize(device)
        start = time.perf_counter()
        with torch.inference_mode():
            steps = int(audio_seconds * 50) + 4
            model.generate(**inputs, max_new_tokens=steps, do_sample=True, guidance_scale=3.0, top_k=250)
        _synchronize(device)
        return time.perf_counter() - start

    if device == "cuda":
        plain(1.0)  # kernels and allocator warm-up, outside the timing
        torch.cuda.reset_peak_memory_stats()
    plain_seconds = plain(seconds)

    request = GenerateRequest(prompt=PROMPT, duration=max(5.0, seconds), seed=1, advanced={"model": str(folder)})
    engine = MusicgenEngine()
    if device == "cuda":  # the engine loads its own cached copy: warm it up too
        warm = GenerateRequest(prompt=PROMPT, duration=5.0, seed=1, advanced={"model": str(folder)})
        engine.run(warm, RunContext(seed=1, scratch=scratch, device=device))
    _synchronize(device)
    start = time.perf_counter()
    engine.run(request, RunContext(seed=1, scratch=scratch, device=device))
    _synchronize(device)
    engine_seconds = time.perf_counter() - start
    figures = {
        "parameters_m": round(parameters, 1),
        "dtype": str(model.dtype).removeprefix("torch."),
        "audio_s": request.duration,
        "plain_s_per_audio_s": round(plain_seconds / seconds, 3),
        "engine_s_per_audio_s": round(engine_seconds / request.duration, 3),
        "engine_wall_s": round(engine_seconds, 2),
        "engine_over_plain": round((engine_seconds / request.duration) / (plain_seconds / seconds), 2),
    }
    if device == "cuda":
        figures["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return figures


def main() -> dict[str, Any]:
    import torch

    work = Path(tempfile.mkdtemp(prefix="cadenza-bench-neural-"))
    results: dict[str, Any] = {}
    cpu = measure(sized_model(work / "small", "small"), "cpu", CPU_SECONDS, work)
    cpu["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    results["cpu-small"] = cpu
    write_section(
        "MusicGen on CPU (musicgen-small-sized random weights)",
        f"""
Machine: {machine()}, torch {torch.__version__}, float32, guidance 3, top-k 250.
Model: {cpu["parameters_m"]:.0f} M parameters (musicgen-small's architecture, random weights, so the cost per
decoding step is the real one). `make bench-neural`; `CADENZA_BENCH_NEURAL_SECONDS` sets the length.

| | seconds per second of audio |
|---|---|
| plain `model.generate` ({CPU_SECONDS:g} s of audio) | {cpu["plain_s_per_audio_s"]} |
| Cadenza's musicgen engine ({cpu["audio_s"]:g} s, progress + cancel hooks, write) | {cpu["engine_s_per_audio_s"]} |
| ratio engine / plain | {cpu["engine_over_plain"]} |

Peak memory of the process: {cpu["peak_rss_gb"]} GB (two copies of the weights: the plain model and the
engine's cached one). {GPU_NOTE if not torch.cuda.is_available() else ""}
""",
    )
    if torch.cuda.is_available():
        rows = []
        for size in ("small", "medium"):
            figures = measure(sized_model(work / f"gpu-{size}", size), "cuda", GPU_SECONDS, work)
            results[f"cuda-{size}"] = figures
            rows.append(
                f"| musicgen-{size} ({figures['parameters_m']:.0f} M, {figures['dtype']}) | "
                f"{figures['plain_s_per_audio_s'] * GPU_SECONDS:.2f} | {figures['engine_wall_s']} | "
                f"{figures['engine_over_plain']} | {figures['peak_gpu_gb']} |"
            )
        table = "\n".join(rows)
        write_section(
            "MusicGen on GPU (16 s of audio, random weights at real sizes)",
            f"""
GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, guidance 3, top-k 250, after a warm-up.
Target: under 3 s for 16 s of audio on an H100 (under 30 s on a DGX Spark-class box).

| model | plain `generate`, s | Cadenza engine, s | engine / plain | peak GPU memory, GB |
|---|---|---|---|---|
{table}
""",
        )
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
