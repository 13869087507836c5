"""`cadenza models` and `cadenza doctor` on this machine, with a tiny model standing in for real weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")


def cadenza(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


@pytest.mark.slow
def test_models_list_and_check_find_weights_in_the_models_dir(tmp_path: Path) -> None:
    from tests.engines.tiny_models import tiny_musicgen

    models = tmp_path / "models"
    tiny_musicgen(models / "musicgen-small")
    env = {"CADENZA_MODELS_DIR": str(models), "HF_HUB_CACHE": str(tmp_path / "hf"), "CADENZA_HOME": str(tmp_path)}
    listing = json.loads(cadenza("models", "list", "--json", env=env).stdout)
    by_id = {m["id"]: m for m in listing["models"]}
    assert by_id["musicgen-small"]["installed"] and by_id["musicgen-small"]["path"] == str(models / "musicgen-small")
    assert not by_id["musicgen-medium"]["installed"]
    assert by_id["musicgen-medium"]["fetch"].startswith("hf download facebook/musicgen-medium")

    report = json.loads(cadenza("models", "check", "musicgen-small", "--json", env=env).stdout)
    assert report["architectures"] == ["MusicgenForConditionalGeneration"] and report["source"] == "models-dir"

    missing = cadenza("models", "check", "musicgen-large", env=env)
    assert missing.returncode != 0 and "hf download facebook/musicgen-large" in missing.stdout + missing.stderr

    engines = json.loads(cadenza("engines", "--json", env=env).stdout)
    musicgen = next(e for e in engines["engines"] if e["name"] == "musicgen")
    assert musicgen["available"]


def test_doctor_reports_device_memory_and_engines(tmp_path: Path) -> None:
    result = cadenza("doctor", "--json", env={"CADENZA_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["torch"]["installed"] and report["torch"]["device"] in ("cuda", "mps", "cpu")
    assert report["ram_available_gb"] > 0
    assert {"procedural", "musicgen", "demucs"} <= {e["name"] for e in report["engines"]}
