"""Adapters through diffusers' own LoRA loader (`load_lora_weights` / `set_adapters` / `unload_lora_weights`),
on a tiny random LTX-Video pipeline: the path the `ltx` engine takes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("peft")
pytest.importorskip("diffusers")

from cadenza.loras.apply import attached, attached_pipeline
from cadenza.loras.choices import LoraFile, resolve_loras
from cadenza.loras.fit import LoraTarget
from cadenza.loras.store import LoraStore
from tests.loras.adapters import make_adapter

pytestmark = pytest.mark.slow
LTX_ENGINE = SimpleNamespace(name="ltx", lora_families=("ltx",))  # the engine's adapter contract, nothing more


def tiny_ltx(folder: Path) -> Any:
    """An LTXPipeline with tiny random components (1 transformer layer of 4 heads x 8, 8 latent channels)."""
    import torch
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline
    from diffusers import LTXVideoTransformer3DModel as Transformer
    from transformers import T5Config, T5EncoderModel

    from tests.engines.tiny_models import _t5_tokenizer

    torch.manual_seed(0)
    tokenizer = _t5_tokenizer()
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4)
    )
    transformer = Transformer(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32,
    )  # fmt: skip
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )  # fmt: skip
    pipeline = LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        transformer=transformer,
    )  # fmt: skip
    pipeline.save_pretrained(folder)
    return LTXPipeline.from_pretrained(folder)  # as the engine loads it: every module in eval mode


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, LoraStore, LoraTarget]:
    root = tmp_path_factory.mktemp("ltx")
    pipeline = tiny_ltx(root / "tiny-ltx")
    store = LoraStore(root / "home")
    for name, seed, targets in (("style", 1, ["to_q", "to_k", "to_v"]), ("motion", 2, ["to_out.0", "proj_out"])):
        make_adapter(pipeline.transformer, root / f"{name}.safetensors", targets, seed=seed, prefix="transformer.")
        store.add(root / f"{name}.safetensors", name=name, engine="ltx")  # width 32 alone cannot say which DiT
    files = tuple(sorted((root / "tiny-ltx" / "transformer").glob("*.safetensors")))
    return pipeline, store, LoraTarget("tiny-ltx", files)


def adapters(setup: tuple[Any, LoraStore, LoraTarget], *chosen: tuple[str, float]) -> list[LoraFile]:
    _pipeline, store, target = setup
    advanced = {"loras": [{"name": name, "weight": weight} for name, weight in chosen]}
    return resolve_loras(store.root.parent, LTX_ENGINE, advanced, target)


def video(pipeline: Any) -> np.ndarray:
    import torch

    generator = torch.Generator().manual_seed(3)
    return pipeline(
        "a misty forest", height=32, width=32, num_frames=9, num_inference_steps=2, generator=generator,
        output_type="np",
    ).frames[0]  # fmt: skip


def test_load_weight_combine_and_unload_with_diffusers_loader(setup: tuple[Any, LoraStore, LoraTarget]) -> None:
    pipeline = setup[0]
    plain = video(pipeline)
    with attached_pipeline(pipeline, adapters(setup, ("style", 0.0))):
        off = video(pipeline)
    with attached_pipeline(pipeline, adapters(setup, ("style", 1.0))):
        style = video(pipeline)
    with attached_pipeline(pipeline, adapters(setup, ("style", 1.0), ("motion", 1.0))):
        both = video(pipeline)
    after = video(pipeline)
    assert np.array_equal(off, plain) and np.array_equal(after, plain)
    assert np.abs(style - plain).mean() > 1e-4 and np.abs(both - style).mean() > 1e-4
    assert not any("lora" in name for name, _ in pipeline.transformer.named_parameters())


def test_diffusers_loader_and_peft_attach_give_the_same_frames(setup: tuple[Any, LoraStore, LoraTarget]) -> None:
    pipeline = setup[0]
    chosen = adapters(setup, ("style", 0.7), ("motion", 0.4))
    with attached_pipeline(pipeline, chosen):
        through_diffusers = video(pipeline)
    with attached(pipeline.transformer, chosen):
        through_peft = video(pipeline)
    assert np.allclose(through_diffusers, through_peft, atol=1e-5)
