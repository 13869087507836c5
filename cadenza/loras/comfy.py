"""Adapters on a ComfyUI server: a `LoraLoaderModelOnly` chain after the workflow's model loader.

ComfyUI reads LoRAs from its own `models/loras` folder (its API uploads inputs, not models), so each
adapter must be there: it is found by the name it was added under (`<name>.safetensors`), its original
file name, or its sha256 (`<sha256>.safetensors`); otherwise the job is refused with where to copy it.
"""

from __future__ import annotations

import copy
from pathlib import PurePosixPath
from typing import Any

from cadenza.errors import EngineUnavailable, InputError
from cadenza.loras.choices import LoraFile

# Node classes whose output 0 is the diffusion model (MODEL) an adapter modifies.
MODEL_LOADERS = ("CheckpointLoaderSimple", "CheckpointLoader", "UNETLoader", "UnetLoaderGGUF", "LoaderGGUF")
LORA_NODE = "LoraLoaderModelOnly"


def server_files(object_info: dict[str, Any]) -> list[str]:
    """The LoRA files the server offers (LoraLoaderModelOnly's `lora_name` choices)."""
    node = object_info.get(LORA_NODE)
    if node is None:
        raise EngineUnavailable(f"the ComfyUI server has no {LORA_NODE} node (a core node since 2024): update it")
    choices = node["input"]["required"]["lora_name"][0]
    return [str(choice) for choice in choices] if isinstance(choices, list) else []


def server_file(lora: LoraFile, filename: str, offered: list[str], home_hint: str) -> str:
    """The server's name for `lora`'s file, or a refusal saying where to put it."""
    wanted = {f"{lora.name}.safetensors", filename, f"{lora.sha256}.safetensors"}
    for option in offered:
        if PurePosixPath(option.replace("\\", "/")).name in wanted:
            return option
    raise EngineUnavailable(
        f"adapter {lora.name!r} is not on the ComfyUI server: copy {home_hint} into its models/loras folder as "
        f"{lora.name}.safetensors (it offers {len(offered)} LoRA files)"
    )


def with_lora_chain(graph: dict[str, dict[str, Any]], chain: list[tuple[str, float]]) -> dict[str, dict[str, Any]]:
    """A copy of `graph` whose model loader feeds a LoraLoaderModelOnly per (server file, weight), in order,
    and everything that read the loader's MODEL reads the last adapter's instead."""
    if not chain:
        return graph
    loaders = [node_id for node_id, node in graph.items() if node["class_type"] in MODEL_LOADERS]
    if not loaders:
        raise InputError(
            f"the workflow has no model loader to put adapters after ({', '.join(MODEL_LOADERS)}); run it without loras"
        )
    patched = copy.deepcopy(graph)
    taken = {int(node_id) for node_id in patched if str(node_id).isdigit()}
    next_id = max(taken, default=0) + 1
    for loader in loaders:
        source = [loader, 0]
        added = []
        for server_name, weight in chain:
            node_id = str(next_id)
            next_id += 1
            patched[node_id] = {
                "class_type": LORA_NODE,
                "inputs": {"model": source, "lora_name": server_name, "strength_model": weight},
                "_meta": {"title": f"Cadenza adapter {server_name}"},
            }
            added.append(node_id)
            source = [node_id, 0]
        for node_id, node in patched.items():
            if node_id in added:
                continue
            for name, value in node["inputs"].items():
                if isinstance(value, list) and len(value) == 2 and str(value[0]) == loader and value[1] == 0:
                    node["inputs"][name] = source
    return patched
