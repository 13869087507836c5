"""The LoraLoaderModelOnly chain put into a ComfyUI workflow, and finding an adapter among the server's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.errors import EngineUnavailable, InputError
from cadenza.loras.choices import LoraFile
from cadenza.loras.comfy import server_file, server_files, with_lora_chain
from cadenza.loras.inspect import AdapterInfo

GRAPH = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "ltxv-2b.safetensors"}},
    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "forest", "clip": ["1", 1]}},
    "3": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["2", 0], "seed": 1}},
    "4": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 2]}},
}


def lora(name: str, sha: str = "a" * 64) -> LoraFile:
    return LoraFile(name, sha, 1.0, Path("/x"), AdapterInfo("peft", {}, "F16"), {})


def test_the_chain_follows_the_model_loader_and_the_sampler_reads_its_end() -> None:
    patched = with_lora_chain(GRAPH, [("style.safetensors", 0.8), ("motion.safetensors", 0.5)])
    assert GRAPH["3"]["inputs"]["model"] == ["1", 0]  # the template is untouched
    first, second = patched["5"], patched["6"]
    assert first["class_type"] == second["class_type"] == "LoraLoaderModelOnly"
    assert first["inputs"] == {"model": ["1", 0], "lora_name": "style.safetensors", "strength_model": 0.8}
    assert second["inputs"]["model"] == ["5", 0] and second["inputs"]["strength_model"] == 0.5
    assert patched["3"]["inputs"]["model"] == ["6", 0]
    assert patched["2"]["inputs"]["clip"] == ["1", 1] and patched["4"]["inputs"]["vae"] == ["1", 2]  # not MODEL
    assert with_lora_chain(GRAPH, []) is GRAPH


def test_a_workflow_without_a_model_loader_is_refused() -> None:
    with pytest.raises(InputError, match="no model loader"):
        with_lora_chain({"1": {"class_type": "LoadImage", "inputs": {}}}, [("x.safetensors", 1.0)])


def test_the_server_file_is_found_by_name_original_file_name_or_sha256() -> None:
    offered = ["sub/style.safetensors", "other.safetensors", f"{'b' * 64}.safetensors", "my_orig.safetensors"]
    assert server_file(lora("style"), "x.safetensors", offered, "F") == "sub/style.safetensors"
    assert server_file(lora("zzz", "b" * 64), "x.safetensors", offered, "F") == f"{'b' * 64}.safetensors"
    assert server_file(lora("zzz"), "my_orig.safetensors", offered, "F") == "my_orig.safetensors"
    with pytest.raises(EngineUnavailable, match=r"adapter 'zzz' is not on the ComfyUI server: copy F into"):
        server_file(lora("zzz"), "nope.safetensors", offered, "F")
    info = {"LoraLoaderModelOnly": {"input": {"required": {"lora_name": [offered]}}}}
    assert server_files(info) == offered
    with pytest.raises(EngineUnavailable, match="no LoraLoaderModelOnly node"):
        server_files({})
