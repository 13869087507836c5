"""`python -m benchmarks.loras`: what LoRA adapters cost a MusicGen job (musicgen-small-sized random weights).

Measured in one run on one model: the header-only fit check at submission, attaching and removing a
rank-16 adapter on every attention projection of the 24-layer decoder (96 layers), and decoding with
the adapter against decoding without it (same prompt, seed and length). The logits after removal are
compared with the plain model's, so the figure is for a clean detach.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine, write_section

SECONDS = float(os.environ.get("CADENZA_BENCH_LORA_SECONDS", "2"))
PROMPT = "lofi hip hop, warm rhodes"


def main() -> dict[str, Any]:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from cadenza.engines.musicgen import MusicgenEngine, _load
    from cadenza.loras.apply import attached
    from cadenza.loras.choices import for_request
    from cadenza.loras.store import LoraStore
    from cadenza.models.resolve import resolve
    from cadenza.tasks import GenerateRequest
    from tests.engines import tiny_models
    from tests.loras.adapters import make_adapter

    work = Path(tempfile.mkdtemp(prefix="cadenza-bench-loras-"))
    folder = tiny_models.random_musicgen(work / "small", tiny_models.SMALL)
    model, processor = _load(resolve(str(folder)), "cpu")
    targets = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj"]
    adapter = make_adapter(model.decoder, work / "bench.safetensors", targets, rank=16, prefix="base_model.model.")
    LoraStore(work / "home").add(adapter, name="bench")
    request = GenerateRequest(
        prompt=PROMPT, duration=5, advanced={"model": str(folder), "loras": [{"name": "bench", "weight": 1.0}]}
    )
    checks = []
    for _ in range(5):
        start = time.perf_counter()
        files = for_request(work / "home", MusicgenEngine(), request)
        checks.append(time.perf_counter() - start)
    cycles = []
    for _ in range(5):
        start = time.perf_counter()
        with attached(model.decoder, files):
            pass
        cycles.append(time.perf_counter() - start)

    inputs = dict(processor(text=[PROMPT], padding=True, return_tensors="pt"))
    probe = torch.full((4, 4), model.generation_config.decoder_start_token_id)

    def decode() -> float:
        torch.manual_seed(1)
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=int(SECONDS * 50) + 4, do_sample=True, guidance_scale=3.0)
        return time.perf_counter() - start

    with torch.inference_mode():
        before = model(**inputs, decoder_input_ids=probe).logits
    plains, adapteds = [], []
    for _ in range(2):  # interleaved, so a busy machine weighs on both alike
        plains.append(decode())
        with attached(model.decoder, files):
            adapteds.append(decode())
    plain, adapted = min(plains), min(adapteds)
    with torch.inference_mode():
        clean = bool((model(**inputs, decoder_input_ids=probe).logits == before).all())
    layers = len(files[0].layers)
    figures = {
        "layers": layers,
        "adapter_mb": round(adapter.stat().st_size / 2**20, 1),
        "fit_check_ms": round(1000 * statistics.median(checks), 1),
        "attach_detach_ms": round(1000 * statistics.median(cycles), 1),
        "plain_s_per_audio_s": round(plain / SECONDS, 3),
        "adapted_s_per_audio_s": round(adapted / SECONDS, 3),
        "adapted_over_plain": round(adapted / plain, 3),
        "restored_exactly": clean,
    }
    write_section(
        "LoRA adapters on MusicGen (musicgen-small-sized random weights)",
        f"""
Machine: {machine()}, torch {torch.__version__}, float32, CPU, guidance 3.
`python -m benchmarks.loras` (`CADENZA_BENCH_LORA_SECONDS` sets the decoded length, here {SECONDS:g} s).
Adapter: rank 16 on the q/k/v/out projections of all 24 decoder layers ({layers} layers,
{figures["adapter_mb"]} MB), made with PEFT on the same model.

| measure | value |
|---|---|
| fit check at submission (record, file and model headers), median of 5 | {figures["fit_check_ms"]} ms |
| attach + remove on the cached decoder, median of 5 | {figures["attach_detach_ms"]} ms |
| plain decoding, seconds per second of audio (best of 2, interleaved) | {figures["plain_s_per_audio_s"]} |
| decoding with the adapter, seconds per second of audio (best of 2) | {figures["adapted_s_per_audio_s"]} |
| ratio adapted / plain | {figures["adapted_over_plain"]} |
| logits after removal equal the plain model's | {"yes" if clean else "NO"} |
""",
    )
    print(figures)
    return figures


if __name__ == "__main__":
    main()
