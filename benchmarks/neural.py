"""`make bench-neural`: MusicGen decoding speed and peak memory with musicgen-small-sized random weights.

The weights are random but the architecture is musicgen-small's (T5-base text encoder, a 24-layer
1024-wide decoder over 4 codebooks of 2048, the 32 kHz EnCodec), so the cost per step is the real
one. Cadenza's engine (progress and cancel hooks, windowing) is timed against a plain
`model.generate` call on the same model in the same run.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, write_section

SECONDS = float(os.environ.get("CADENZA_BENCH_NEURAL_SECONDS", "4"))


def small_sized_model(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.engines.tiny_models import SMALL, random_musicgen

    return random_musicgen(folder, SMALL)


def main() -> dict[str, float]:
    import torch

    from cadenza.engines.base import RunContext
    from cadenza.engines.musicgen import MusicgenEngine, _load
    from cadenza.models.resolve import resolve
    from cadenza.tasks import GenerateRequest

    work = Path(tempfile.mkdtemp(prefix="cadenza-bench-neural-"))
    folder = small_sized_model(work / "musicgen-small-random")
    model, processor = _load(resolve(str(folder)), "cpu")
    parameters = sum(p.numel() for p in model.parameters()) / 1e6
    inputs = processor(text=["lofi hip hop, warm rhodes"], padding=True, return_tensors="pt")
    steps = int(SECONDS * 50) + 4
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=steps, do_sample=True, guidance_scale=3.0, top_k=250)
    plain = time.perf_counter() - start

    request = GenerateRequest(prompt="lofi hip hop, warm rhodes", duration=max(5.0, SECONDS), seed=1)
    request.advanced = {"model": str(folder)}
    seconds = request.duration
    start = time.perf_counter()
    MusicgenEngine().run(request, RunContext(seed=1, scratch=work, device="cpu"))
    engine = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    figures = {
        "parameters_m": round(parameters, 1),
        "plain_generate_s_per_audio_s": round(plain / SECONDS, 2),
        "engine_s_per_audio_s": round(engine / seconds, 2),
        "engine_over_plain": round((engine / seconds) / (plain / SECONDS), 2),
        "peak_rss_gb": round(peak_gb, 2),
    }
    write_section(
        "MusicGen on CPU (musicgen-small-sized random weights)",
        f"""
Machine: {machine()}, torch {torch.__version__}, float32, guidance 3, top-k 250.
Model: {parameters:.0f} M parameters (musicgen-small's architecture, random weights, so the cost per
decoding step is the real one). `make bench-neural`; `CADENZA_BENCH_NEURAL_SECONDS` sets the length.

| | seconds per second of audio |
|---|---|
| plain `model.generate` ({SECONDS:g} s of audio) | {figures["plain_generate_s_per_audio_s"]} |
| Cadenza's musicgen engine ({seconds:g} s, progress + cancel hooks, write) | {figures["engine_s_per_audio_s"]} |
| ratio engine / plain | {figures["engine_over_plain"]} |

Peak memory of the process: {figures["peak_rss_gb"]} GB.
GPU figures (16 s at musicgen-small and -medium sizes in bf16) need a GPU machine; none was lent to
this task.
""",
    )
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
