"""/api/v1/loras against a real `cadenza serve` with a small upload cap."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Server, running
from tests.loras.adapters import musicgen_layers, synthetic_adapter

pytest.importorskip("safetensors")


@pytest.fixture(scope="module")
def small_cap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("loras") / "home", env={"CADENZA_MAX_UPLOAD_MB": "0.1"}) as server:
        yield server


def test_upload_list_get_delete(small_cap: Server, tmp_path: Path) -> None:
    file = synthetic_adapter(tmp_path / "choir.safetensors", musicgen_layers(1024, blocks=1))
    with small_cap.client() as http:
        created = http.post(
            "/api/v1/loras",
            files={"file": ("choir.safetensors", file.read_bytes())},
            data={"name": "choir", "trigger": "choir, hymn"},
        )
        assert created.status_code == 201, created.text
        record = created.json()
        assert (record["name"], record["family"], record["triggers"]) == ("choir", "musicgen", ["choir", "hymn"])
        assert [item["name"] for item in http.get("/api/v1/loras").json()["items"]] == ["choir"]
        assert http.get("/api/v1/loras", params={"engine": "stable_audio"}).json()["items"] == []
        assert http.get("/api/v1/loras/choir").json()["sha256"] == record["sha256"]

        other = synthetic_adapter(tmp_path / "other.safetensors", musicgen_layers(1024, blocks=1), seed=3)
        clash = http.post(
            "/api/v1/loras", files={"file": ("x.safetensors", other.read_bytes())}, data={"name": "choir"}
        )
        assert clash.status_code == 409 and "already exists" in clash.json()["error"]["message"]

        assert http.delete("/api/v1/loras/choir").status_code == 204
        gone = http.get("/api/v1/loras/choir")
        assert gone.status_code == 404 and "no adapter named 'choir'" in gone.json()["error"]["message"]


def test_a_pickle_a_non_safetensors_file_and_an_oversized_file_are_refused(small_cap: Server, tmp_path: Path) -> None:
    with small_cap.client() as http:
        evil = http.post("/api/v1/loras", files={"file": ("evil.safetensors", pickle.dumps({"a": 1}))})
        assert evil.status_code == 422 and "a Python pickle" in evil.json()["error"]["message"]
        text = http.post("/api/v1/loras", files={"file": ("readme.md", b"# not an adapter, only words here")})
        assert text.status_code == 422 and "not a safetensors file" in text.json()["error"]["message"]
        big = synthetic_adapter(tmp_path / "big.safetensors", musicgen_layers(2048, blocks=4), rank=16)
        assert big.stat().st_size > 0.1 * 2**20
        too_big = http.post("/api/v1/loras", files={"file": ("big.safetensors", big.read_bytes())})
        assert too_big.status_code == 413 and "CADENZA_MAX_UPLOAD_MB" in too_big.json()["error"]["message"]
        assert http.get("/api/v1/loras").json()["items"] == []


def test_a_job_naming_an_adapter_on_an_engine_without_adapters_is_a_422(small_cap: Server) -> None:
    with small_cap.client() as http:
        job = {"task": "generate", "engine": "procedural",
               "input": {"prompt": "x", "advanced": {"loras": [{"name": "choir", "weight": 0.5}]}}}  # fmt: skip
        refused = http.post("/api/v1/jobs", json=job)
        assert refused.status_code == 422 and "takes no adapters" in refused.json()["error"]["message"]


def test_an_ic_lora_is_uploaded_with_its_kind_and_control(small_cap: Server, tmp_path: Path) -> None:
    """An LTX-2 transformer adapter said to be an IC-LoRA that follows depth videos; a MusicGen one is refused."""
    ltx2 = {f"transformer_blocks.0.{part}.to_q": (16, 16) for part in ("attn1", "audio_attn1")}
    file = synthetic_adapter(tmp_path / "depth.safetensors", ltx2)
    with small_cap.client() as http:
        created = http.post(
            "/api/v1/loras",
            files={"file": ("depth.safetensors", file.read_bytes())},
            data={"name": "depth", "kind": "ic-lora", "control": "depth"},
        )
        assert created.status_code == 201, created.text
        record = created.json()
        assert (record["kind"], record["control"], record["base_model"]) == ("ic-lora", "depth", "ltx-2")
        assert record["reference_downscale_factor"] == 1
        music = synthetic_adapter(tmp_path / "choir.safetensors", musicgen_layers(1024, blocks=1))
        refused = http.post(
            "/api/v1/loras", files={"file": ("choir.safetensors", music.read_bytes())}, data={"kind": "ic-lora"}
        )
        assert refused.status_code == 422 and "not an IC-LoRA" in refused.json()["error"]["message"]
        odd = http.post("/api/v1/loras", files={"file": ("d.safetensors", file.read_bytes())}, data={"kind": "ic"})
        assert odd.status_code == 422 and "accepted: lora, ic-lora" in odd.json()["error"]["message"]
        assert http.delete("/api/v1/loras/depth").status_code == 204
