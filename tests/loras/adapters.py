"""Tiny LoRA adapters made with PEFT on the tiny random models, saved as the trainers save them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any


def make_adapter(
    module: Any,
    out: Path,
    targets: list[str],
    *,
    rank: int = 4,
    seed: int = 0,
    prefix: str = "",
    alpha: float | None = None,
    kohya: bool = False,
    metadata: dict[str, str] | None = None,
) -> Path:
    """A PEFT LoRA on a copy of `module` with random (non-zero) A and B, written as safetensors.

    PEFT/diffusers keys (`<prefix><layer>.lora_A.weight`) by default; kohya keys
    (`lora_unet_<layer_with_underscores>.lora_down.weight` and `.alpha`) with `kohya`.
    """
    import torch
    from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    config = LoraConfig(r=rank, lora_alpha=alpha or rank, target_modules=targets, init_lora_weights=False)
    adapted = inject_adapter_in_model(config, copy.deepcopy(module))
    state = {key: value.detach().contiguous() for key, value in get_peft_model_state_dict(adapted).items()}
    if kohya:
        renamed = {}
        for key, value in state.items():
            layer, _, part = key.rpartition(".lora_")
            flat = "lora_unet_" + layer.replace(".", "_")
            renamed[f"{flat}.lora_{'down' if part.startswith('A') else 'up'}.weight"] = value
            renamed[f"{flat}.alpha"] = torch.tensor(float(alpha or rank))
        state = renamed
    else:
        state = {prefix + key: value for key, value in state.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out), metadata=metadata)
    return out


def synthetic_adapter(out: Path, layers: dict[str, tuple[int, int]], *, rank: int = 4, style: str = "peft",
                      metadata: dict[str, str] | None = None, seed: int = 0) -> Path:  # fmt: skip
    """A LoRA file written with numpy (no model needed): `layers` maps a layer name to (in, out) features."""
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    down, up = ("lora_A", "lora_B") if style == "peft" else ("lora_down", "lora_up")
    tensors = {}
    for layer, (in_features, out_features) in layers.items():
        tensors[f"{layer}.{down}.weight"] = rng.standard_normal((rank, in_features)).astype(np.float16)
        tensors[f"{layer}.{up}.weight"] = rng.standard_normal((out_features, rank)).astype(np.float16)
        if style == "kohya":
            tensors[f"{layer}.alpha"] = np.array(float(rank), dtype=np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata=metadata)
    return out


def musicgen_layers(width: int, blocks: int = 2, prefix: str = "base_model.model.decoder.model.decoder.layers"):
    """q/v projections of MusicGen decoder blocks at `width`, as PEFT names them on the full model."""
    return {f"{prefix}.{i}.self_attn.{p}_proj": (width, width) for i in range(blocks) for p in ("q", "v")}
