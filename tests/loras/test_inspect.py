"""What an adapter file is, from its header alone: refusals name what the file looks like and what is
accepted; accepted files say which engine and base model they fit."""

from __future__ import annotations

import pickle
import struct
import zipfile
from pathlib import Path

import pytest

from cadenza.errors import Conflict, InputError
from cadenza.loras.inspect import inspect_adapter
from cadenza.loras.store import LoraStore
from tests.loras.adapters import musicgen_layers, synthetic_adapter

pytest.importorskip("safetensors")


def dit_layers(width: int, cross_in: int, cross_out: int, prefix: str = "transformer.") -> dict[str, tuple[int, int]]:
    block = f"{prefix}transformer_blocks.0"
    return {
        f"{block}.attn1.to_q": (width, width),
        f"{block}.attn1.to_v": (width, width),
        f"{block}.attn2.to_k": (cross_in, cross_out),
        f"{block}.attn2.to_v": (cross_in, cross_out),
    }


def test_a_pickle_a_torch_archive_and_other_files_are_refused_saying_what_they_are(tmp_path: Path) -> None:
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"lora": [1, 2, 3]}))
    with pytest.raises(InputError, match=r"a Python pickle .*accepted: a .safetensors LoRA file"):
        inspect_adapter(evil)
    archive = tmp_path / "adapter.pt"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({}))
    with pytest.raises(InputError, match=r"zip archive .*torch.save"):
        inspect_adapter(archive)
    text = tmp_path / "notes.txt"
    text.write_text("not an adapter at all, just some words in a file")
    with pytest.raises(InputError, match=r"notes.txt is not a safetensors file"):
        inspect_adapter(text)
    good = synthetic_adapter(tmp_path / "good.safetensors", musicgen_layers(1024))
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(InputError, match="truncated or corrupt"):
        inspect_adapter(truncated)
    forged = tmp_path / "forged.safetensors"
    forged.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(InputError, match="not a safetensors file"):
        inspect_adapter(forged)


@pytest.mark.parametrize(
    ("width", "base"),
    [(1024, "musicgen-small"), (1536, "musicgen-medium or musicgen-melody"), (2048, "musicgen-large")],
)
def test_musicgen_decoder_adapters_name_their_base_model_by_width(tmp_path: Path, width: int, base: str) -> None:
    info = inspect_adapter(synthetic_adapter(tmp_path / "a.safetensors", musicgen_layers(width), rank=8))
    assert (info.family, info.base_model, info.width, info.ranks) == ("musicgen", base, width, [8])


def test_diffusion_transformer_adapters_are_told_apart_by_their_widths(tmp_path: Path) -> None:
    stable_audio = inspect_adapter(synthetic_adapter(tmp_path / "sa.safetensors", dit_layers(1536, 768, 768)))
    assert (stable_audio.family, stable_audio.base_model) == ("stable_audio", "stable-audio-open-1.0")
    ltx = inspect_adapter(synthetic_adapter(tmp_path / "ltx.safetensors", dit_layers(2048, 2048, 2048)))
    assert (ltx.family, ltx.base_model) == ("ltx", "ltx-video-2b")
    comfy_ltx = synthetic_adapter(tmp_path / "c.safetensors", dit_layers(2048, 2048, 2048, prefix="diffusion_model."))
    assert inspect_adapter(comfy_ltx).family == "ltx"
    kohya = synthetic_adapter(
        tmp_path / "k.safetensors", dit_layers(1536, 768, 768, prefix="lora_unet_"), style="kohya"
    )
    assert inspect_adapter(kohya).family == "stable_audio" and inspect_adapter(kohya).style == "kohya"
    unknown_width = synthetic_adapter(tmp_path / "tiny.safetensors", {"transformer_blocks.0.attn1.to_q": (64, 64)})
    with pytest.raises(InputError, match="width 64, which could be for stable_audio or ltx; say which with --engine"):
        inspect_adapter(unknown_width)
    assert inspect_adapter(unknown_width, engine="ltx").family == "ltx"
    with pytest.raises(
        InputError, match=r"looks like a Stable Audio DiT LoRA for stable-audio-open-1.0 .*not one for ltx"
    ):
        inspect_adapter(tmp_path / "sa.safetensors", engine="ltx")


def test_adapters_for_other_models_are_refused_naming_what_they_look_like(tmp_path: Path) -> None:
    text_encoder = synthetic_adapter(tmp_path / "te.safetensors", {"lora_te_text_model_encoder_layers_0_q": (8, 8)})
    with pytest.raises(InputError, match=r"looks like a text-encoder LoRA.*accepted: LoRA adapters in safetensors"):
        inspect_adapter(text_encoder)
    unet = synthetic_adapter(tmp_path / "sd.safetensors", {"unet.down_blocks.0.attentions.0.proj_in": (8, 8)})
    with pytest.raises(InputError, match="UNet LoRA of an image model"):
        inspect_adapter(unet)
    llm = synthetic_adapter(tmp_path / "llm.safetensors", {"base_model.model.model.layers.0.self_attn.q_proj": (8, 8)})
    with pytest.raises(InputError, match="language-model LoRA"):
        inspect_adapter(llm)


def test_metadata_gives_trigger_words_and_the_store_keeps_one_file_per_content(tmp_path: Path) -> None:
    file = synthetic_adapter(
        tmp_path / "vox.safetensors", musicgen_layers(1024), metadata={"trigger_words": "vox, airy"}
    )
    store = LoraStore(tmp_path / "home")
    record = store.add(file)
    assert (record.name, record.triggers, record.family) == ("vox", ["vox", "airy"], "musicgen")
    assert store.add(file).sha256 == record.sha256  # the same file under the same name again: the same record
    store.add(file, name="vox-copy", trigger="whisper")
    assert len(list(store.files.glob("*.safetensors"))) == 1 and store.get("vox-copy").triggers == ["whisper"]
    other = synthetic_adapter(tmp_path / "other.safetensors", musicgen_layers(1024), seed=1)
    with pytest.raises(Conflict, match="an adapter named 'vox' already exists"):
        store.add(other, name="vox")
    with pytest.raises(InputError, match=r"adapter name .\.\./x. is not valid"):
        store.add(other, name="../x")
    store.remove("vox")
    assert store.file(record).is_file()  # "vox-copy" still holds it
    store.remove("vox-copy")
    assert not store.file(record).exists() and store.list() == []
