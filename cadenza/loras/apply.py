"""Attach a job's adapters to a loaded torch module with PEFT, and take them off again afterwards.

    with attached(pipeline.transformer, ctx.loras):      # any torch module (MusicGen's decoder, a DiT)
        ...generate...
    with attached_pipeline(pipeline, ctx.loras):          # a diffusers pipeline with a LoRA loader (LTX)
        ...generate...

Each adapter becomes a PEFT LoRA adapter on exactly the layers its file names (rank and alpha per
layer), its weight scales it (PEFT's `set_scale`: weight * alpha / rank), and all of them are active at
once, their contributions summed. On exit every PEFT layer is replaced by the layer it wrapped, so the
cached model is what it was before the job. A lock per module keeps jobs on one cached model from
seeing each other's adapters: every run on a model that may carry adapters goes through `attached`.
"""

from __future__ import annotations

import re
import threading
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cadenza.loras.choices import LoraFile

_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _lock_for(module: Any) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(module, threading.Lock())


@contextmanager
def attached(module: Any, loras: list[LoraFile]) -> Iterator[None]:
    """`module` with `loras` applied for the duration of the block, and exactly as before after it."""
    with _lock_for(module):
        had_config = hasattr(module, "peft_config")
        try:
            names = [_inject(module, lora, f"cadenza_{index}") for index, lora in enumerate(loras)]
            if names:
                _activate(module, names, {name: lora.weight for name, lora in zip(names, loras, strict=True)})
            yield
        finally:
            _remove(module, had_config)


def _tensors(lora: LoraFile) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(lora.path), device="cpu")


def _inject(module: Any, lora: LoraFile, adapter: str) -> str:
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    state = _tensors(lora)
    kohya = lora.info.style == "kohya"
    down, up = ("lora_down", "lora_up") if kohya else ("lora_A", "lora_B")
    ranks, alphas, weights = {}, {}, {}
    for layer, target in lora.layers.items():
        a = state.get(f"{layer}.{down}.weight", state.get(f"{layer}.{down}.default.weight"))
        b = state.get(f"{layer}.{up}.weight", state.get(f"{layer}.{up}.default.weight"))
        rank = int(a.shape[0])
        alpha = state.get(f"{layer}.alpha")
        # kohya and diffusers files carry alpha per layer; PEFT files in the metadata; else alpha = rank
        ranks[target], weights[target] = rank, (a, b)
        alphas[target] = float(alpha) if alpha is not None else (lora.info.layers[layer].alpha or float(rank))
    pattern = {re.escape(target): rank for target, rank in ranks.items()}
    config = LoraConfig(
        r=max(ranks.values()),
        lora_alpha=max(alphas.values()),
        target_modules=list(ranks),
        rank_pattern=pattern,
        alpha_pattern={re.escape(target): alpha for target, alpha in alphas.items()},
        lora_dropout=0.0,
        init_lora_weights=False,
    )
    with warnings.catch_warnings():  # stacking several adapters on one module is what this does on purpose
        warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
        inject_adapter_in_model(config, module, adapter_name=adapter)
    with torch.no_grad():
        for target, (a, b) in weights.items():
            layer = module.get_submodule(target)
            layer.lora_A[adapter].weight.copy_(a.to(layer.lora_A[adapter].weight.dtype))
            layer.lora_B[adapter].weight.copy_(b.to(layer.lora_B[adapter].weight.dtype))
    return adapter


def _peft_layers(module: Any) -> list[tuple[str, Any]]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [(name, layer) for name, layer in module.named_modules() if isinstance(layer, BaseTunerLayer)]


def _activate(module: Any, names: list[str], weights: dict[str, float]) -> None:
    for _name, layer in _peft_layers(module):
        layer.set_adapter(names, inference_mode=True)
        for adapter, weight in weights.items():
            layer.set_scale(adapter, weight)


def _remove(module: Any, had_config: bool) -> None:
    """Put back every layer a PEFT layer wrapped (outermost first), and forget PEFT's config."""
    for name, layer in sorted(_peft_layers(module), key=lambda item: item[0].count(".")):
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        if getattr(parent, child, None) is layer:
            setattr(parent, child, layer.get_base_layer())
    if not had_config and hasattr(module, "peft_config"):
        del module.peft_config


@contextmanager
def attached_pipeline(pipeline: Any, loras: list[LoraFile]) -> Iterator[None]:
    """A diffusers pipeline with a LoRA loader mixin (LTX-Video, LTX-2): each adapter through
    `load_lora_weights`, weighted with `set_adapters`, and `unload_lora_weights` afterwards, which puts
    the transformer's own layers back. Adapter files are handed over as diffusers-named state dicts
    (`transformer.<layer>.lora_A.weight`), alpha folded into B, so any accepted key style loads."""
    with _lock_for(pipeline.transformer):
        try:
            names = []
            for index, lora in enumerate(loras):
                name = f"cadenza_{index}"
                pipeline.load_lora_weights(_diffusers_state(lora), adapter_name=name)
                names.append(name)
            if names:
                pipeline.set_adapters(names, adapter_weights=[lora.weight for lora in loras])
            yield
        finally:
            pipeline.unload_lora_weights()


def _diffusers_state(lora: LoraFile) -> dict[str, Any]:
    state = _tensors(lora)
    down, up = ("lora_down", "lora_up") if lora.info.style == "kohya" else ("lora_A", "lora_B")
    converted = {}
    for layer, target in lora.layers.items():
        a = state.get(f"{layer}.{down}.weight", state.get(f"{layer}.{down}.default.weight"))
        b = state.get(f"{layer}.{up}.weight", state.get(f"{layer}.{up}.default.weight"))
        rank, alpha = int(a.shape[0]), state.get(f"{layer}.alpha")
        alpha = float(alpha) if alpha is not None else (lora.info.layers[layer].alpha or float(rank))
        converted[f"transformer.{target}.lora_A.weight"] = a
        converted[f"transformer.{target}.lora_B.weight"] = b if alpha == rank else b * (alpha / rank)
    return converted
