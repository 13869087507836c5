"""Adapters on the comfyui engine: a LoraLoaderModelOnly chain after the workflow's model loader, posted to
the stand-in ComfyUI server (the remote service), with the adapter found among the server's LoRA files."""

from __future__ import annotations

import pytest

from cadenza.errors import InputError
from cadenza.jobs.service import JobService
from cadenza.loras.store import LoraStore
from tests.engines.comfyui.standin import Running, StandIn
from tests.engines.comfyui.test_engine import SMALL, posted_graph, run
from tests.loras.adapters import synthetic_adapter

LTX_LAYERS = {f"transformer.transformer_blocks.0.attn{n}.to_{p}": (2048, 2048) for n in (1, 2) for p in "qkv"}


def add(studio: JobService, name: str) -> LoraStore:
    store = LoraStore(studio.settings.home)
    store.add(synthetic_adapter(studio.settings.home.parent / f"{name}.safetensors", LTX_LAYERS), name=name)
    return store


def test_the_adapters_chain_after_the_model_loader_and_the_recipe_names_the_server_file(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    store = add(studio, "ltx-style")
    loras = [{"name": "ltx-style", "weight": 0.8}]
    done = run(studio, "t2v", prompt="a paper boat", advanced={"loras": loras}, **SMALL)
    assert done.status == "succeeded", done.error_message
    graph = posted_graph(standin)
    (chain_id,) = [node_id for node_id, node in graph.items() if node["class_type"] == "LoraLoaderModelOnly"]
    loader = next(node_id for node_id, node in graph.items() if node["class_type"] == "CheckpointLoaderSimple")
    assert graph[chain_id]["inputs"] == {"model": [loader, 0], "lora_name": "ltx-style.safetensors",
                                         "strength_model": 0.8}  # fmt: skip
    readers = [node for node in graph.values() if node["inputs"].get("model") == [chain_id, 0]]
    assert readers and not any(
        node["inputs"].get("model") == [loader, 0] for node_id, node in graph.items() if node_id != chain_id
    )
    sha = store.get("ltx-style").sha256
    assert done.recipe["loras"] == [
        {"name": "ltx-style", "sha256": sha, "weight": 0.8, "server_file": "ltx-style.safetensors"}
    ]
    assert done.recipe["request"]["advanced"]["loras"] == [{"name": "ltx-style", "weight": 0.8, "sha256": sha}]


def test_an_adapter_the_server_lacks_says_where_to_copy_it(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    add(studio, "absent")
    done = run(studio, "t2v", prompt="x", advanced={"loras": [{"name": "absent"}]}, **SMALL)
    assert done.status == "failed" and done.error_category == "unavailable"
    assert "adapter 'absent' is not on the ComfyUI server: copy" in done.error_message
    assert "models/loras folder as absent.safetensors" in done.error_message
    assert standin.posted == []  # refused before anything was queued


def test_a_music_workflow_takes_no_adapters(studio: JobService, server: Running) -> None:
    add(studio, "ltx-style")
    with pytest.raises(InputError, match=r"engine 'comfyui' takes adapters for t2v, .* only, not generate"):
        studio.submit(
            task="generate", engine="comfyui", input={"prompt": "x", "advanced": {"loras": [{"name": "ltx-style"}]}}
        )
