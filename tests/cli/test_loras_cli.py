"""`cadenza loras` and `--lora` in real `cadenza` processes, with their own data dir."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loras.adapters import musicgen_layers, synthetic_adapter

pytest.importorskip("safetensors")


def cadenza(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CADENZA_HOME": str(home), **env},
        timeout=300,
    )


def test_add_list_show_rm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    file = synthetic_adapter(tmp_path / "warm-voice.safetensors", musicgen_layers(1024), rank=8)
    added = cadenza("loras", "add", str(file), "--trigger", "warm, breathy", "--json", home=home)
    assert added.returncode == 0, added.stderr
    record = json.loads(added.stdout)
    assert (record["name"], record["family"], record["base_model"], record["rank"]) == (
        "warm-voice", "musicgen", "musicgen-small", 8)  # fmt: skip
    assert record["triggers"] == ["warm", "breathy"]

    listing = json.loads(cadenza("loras", "list", "--json", home=home).stdout)
    assert [item["name"] for item in listing["items"]] == ["warm-voice"]
    assert "warm-voice" in cadenza("loras", "list", home=home).stderr  # the Rich table

    shown = json.loads(cadenza("loras", "show", "warm-voice", "--json", home=home).stdout)
    assert Path(shown["path"]).is_file() and Path(shown["path"]).name == f"{record['sha256']}.safetensors"

    removed = cadenza("loras", "rm", "warm-voice", home=home)
    assert removed.returncode == 0 and not Path(shown["path"]).exists()
    missing = cadenza("loras", "show", "warm-voice", home=home)
    assert missing.returncode == 2 and "no adapter named 'warm-voice'" in missing.stderr


def test_a_pickle_or_a_file_for_another_model_is_refused_with_exit_code_2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"a": 1}))
    refused = cadenza("loras", "add", str(evil), home=home)
    assert refused.returncode == 2 and "a Python pickle" in refused.stderr and "Traceback" not in refused.stderr
    unet = synthetic_adapter(tmp_path / "sd.safetensors", {"unet.up_blocks.0.attentions.0.proj_out": (8, 8)})
    refused = cadenza("loras", "add", str(unet), home=home)
    assert refused.returncode == 2 and "UNet LoRA of an image model" in refused.stderr
    assert json.loads(cadenza("loras", "list", "--json", home=home).stdout)["items"] == []


@pytest.mark.slow
def test_generate_with_lora_records_the_adapter_in_the_recipe(tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from tests.engines.tiny_models import tiny_musicgen

    home = tmp_path / "home"
    model = tiny_musicgen(tmp_path / "tiny-musicgen")
    adapter = synthetic_adapter(tmp_path / "hum.safetensors", musicgen_layers(32))
    assert cadenza("loras", "add", str(adapter), home=home).returncode == 0
    args = ["generate", "lofi", "--engine", "musicgen", "--model", str(model), "--duration", "5", "--seed", "2"]
    done = cadenza(*args, "--lora", "hum:0.5", "--out", str(tmp_path / "out"), "--json", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    recipe = json.loads(done.stdout)["recipe"]
    sha = json.loads(cadenza("loras", "show", "hum", "--json", home=home).stdout)["sha256"]
    assert recipe["request"]["advanced"]["loras"] == [{"name": "hum", "weight": 0.5, "sha256": sha}]

    bad = cadenza(*args, "--lora", "hum:loud", home=home)
    assert bad.returncode == 2 and "the weight after ':' must be a number" in bad.stderr
    unknown = cadenza(*args, "--lora", "nope", home=home)
    assert unknown.returncode == 2 and "adapter 'nope' is not stored" in unknown.stderr


def test_engines_say_which_take_adapters(tmp_path: Path) -> None:
    listing = json.loads(cadenza("engines", "--json", home=tmp_path / "home").stdout)
    adapters = {engine["name"]: engine["adapters"] for engine in listing["engines"]}
    assert "MusicGen decoder LoRA" in adapters["musicgen"] and "Stable Audio DiT LoRA" in adapters["stable_audio"]
    assert adapters["acestep"].startswith("no adapters") and adapters["procedural"] is None
