"""Tiny, randomly initialised neural models built from config objects, saved like real checkpoints.

Same architectures and the same loading path as the real weights (save_pretrained, then the model
manager and from_pretrained), small enough to run on a CPU in a test. The tokenizer is trained in
memory, so nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS = [
    "lofi hip hop rainy night warm rhodes vinyl",
    "epic orchestral trailer drums strings brass",
    "sunny folk acoustic guitar",
    "dark techno kick bass synth",
]


def _t5_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import T5TokenizerFast

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=120, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tokenizer.train_from_iterator(CORPUS * 10, trainer)
    return T5TokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_ids=0,
        model_max_length=64,
    )


@dataclass(frozen=True)
class MusicgenWidths:
    """What differs between a test-sized MusicGen and a real one; the audio codec's framing never does."""

    text: dict[str, int]  # T5Config
    codec: dict[str, Any]  # EncodecConfig
    decoder: dict[str, int]  # MusicgenDecoderConfig
    codebook_size: int


TINY = MusicgenWidths(
    text={"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_heads": 2},
    # 4 codebooks of 64 entries at 50 frames/s (1.2 kbps), as musicgen-small has 4 of 2048 (2.2 kbps)
    codec={"hidden_size": 16, "num_filters": 4, "codebook_dim": 16, "target_bandwidths": [1.2], "num_lstm_layers": 1},
    decoder={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "ffn_dim": 64},
    codebook_size=64,
)
# musicgen-small's widths: T5-base, the 32 kHz EnCodec, a 24-layer 1024-wide decoder.
SMALL = MusicgenWidths(
    text={"vocab_size": 32128, "d_model": 768, "d_kv": 64, "d_ff": 3072, "num_layers": 12, "num_heads": 12},
    codec={
        "hidden_size": 128,
        "num_filters": 64,
        "codebook_dim": 128,
        "target_bandwidths": [2.2],
        "num_lstm_layers": 2,
    },
    decoder={"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "ffn_dim": 4096},
    codebook_size=2048,
)
# musicgen-medium's: the same text encoder and codec, a 48-layer 1536-wide decoder.
MEDIUM = MusicgenWidths(
    text=SMALL.text,
    codec=SMALL.codec,
    decoder={"hidden_size": 1536, "num_hidden_layers": 48, "num_attention_heads": 24, "ffn_dim": 6144},
    codebook_size=2048,
)


def _random_musicgen_model(widths: MusicgenWidths, seed: int, melody: bool) -> tuple[Any, Any]:
    """A MusicGen (or MusicGen-Melody) with musicgen-small's audio framing (32 kHz, 50 frames/s, 4 codebooks),
    randomly initialised at `widths`, and its tokenizer."""
    import torch
    from transformers import EncodecConfig, T5Config

    if melody:
        from transformers import MusicgenMelodyConfig as Config
        from transformers import MusicgenMelodyDecoderConfig as DecoderConfig
        from transformers import MusicgenMelodyForConditionalGeneration as Model
    else:
        from transformers import MusicgenConfig as Config
        from transformers import MusicgenDecoderConfig as DecoderConfig
        from transformers import MusicgenForConditionalGeneration as Model
    tokenizer = _t5_tokenizer()
    text = T5Config(**{"vocab_size": tokenizer.vocab_size, **widths.text})
    codec = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=widths.codebook_size,
        normalize=False,
        **widths.codec,
    )
    special = widths.codebook_size  # MusicGen's pad and start token sit just past the codebook
    decoder = DecoderConfig(
        vocab_size=widths.codebook_size, num_codebooks=4, pad_token_id=special, bos_token_id=special, **widths.decoder
    )
    chroma = {"num_chroma": 12, "chroma_length": 235} if melody else {}  # 30 s of 4096-sample frames
    config = Config(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict(), **chroma)
    torch.manual_seed(seed)
    model = Model(config).eval()
    model.generation_config.decoder_start_token_id = special
    model.generation_config.pad_token_id = special
    return model, tokenizer


def random_musicgen(folder: Path, widths: MusicgenWidths, seed: int = 0) -> Path:
    """A randomly initialised MusicGen with musicgen-small's audio framing, saved with its processor."""
    from transformers import EncodecFeatureExtractor, MusicgenProcessor

    model, tokenizer = _random_musicgen_model(widths, seed, melody=False)
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=32000), tokenizer=tokenizer
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def tiny_musicgen(folder: Path, seed: int = 0) -> Path:
    return random_musicgen(folder, TINY, seed)


def tiny_musicgen_melody(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised MusicGen-Melody: musicgen-melody's framing (32 kHz, 50 frames/s, 4 codebooks,
    12 chroma bins over 235 frames), tiny widths. Saved with its tokenizer, as its processor needs torchaudio."""
    model, tokenizer = _random_musicgen_model(TINY, seed, melody=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_stable_audio(folder: Path, seed: int = 0) -> Path:
    """A StableAudioPipeline with Stable Audio Open's shapes where they matter (44.1 kHz stereo, a 2048x
    autoencoder hop, 1024 latent frames: 47.5 s at most), tiny widths."""
    import torch
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
    )
    from diffusers.pipelines.stable_audio import StableAudioProjectionModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    tokenizer = _t5_tokenizer()
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2)
    )
    latent = 8
    transformer = StableAudioDiTModel(
        sample_size=1024,
        in_channels=latent,
        num_layers=2,
        attention_head_dim=8,
        num_attention_heads=2,
        num_key_value_attention_heads=1,
        out_channels=latent,
        cross_attention_dim=16,
        time_proj_dim=16,
        global_states_input_dim=32,
        cross_attention_input_dim=16,
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=8,
        downsampling_ratios=[2, 4, 4, 8, 8],
        channel_multiples=[1, 1, 1, 1, 1],
        decoder_channels=8,
        decoder_input_channels=latent,
        audio_channels=2,
        sampling_rate=44100,
    )
    projection = StableAudioProjectionModel(text_encoder_dim=32, conditioning_dim=16, min_value=0, max_value=512)
    scheduler = CosineDPMSolverMultistepScheduler(
        solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
    )
    pipeline = StableAudioPipeline(
        vae=vae,
        text_encoder=text_encoder,
        projection_model=projection,
        tokenizer=tokenizer,
        transformer=transformer,
        scheduler=scheduler,
    )
    pipeline.save_pretrained(folder)
    return folder


def _tiny_ltx_video_vae(latent: int = 8) -> Any:
    """LTX-Video's VAE framing (32x in space from a 4x patch and three 2x stages, 8x in time), 8 channels
    wide, with the decoder as small as the encoder (its defaults are full size)."""
    from diffusers import AutoencoderKLLTXVideo

    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=latent,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4,
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return vae


def ltx_video_transformer(layers: int = 1, heads: int = 4, head_dim: int = 8, caption: int = 32) -> Any:
    """An LTX-Video transformer of the given widths (the 2B distilled model: 28 layers, 32 heads x 64,
    captions 4096 wide from T5-XXL), randomly initialised."""
    from diffusers import LTXVideoTransformer3DModel

    return LTXVideoTransformer3DModel(
        in_channels=128 if heads > 4 else 8,
        out_channels=128 if heads > 4 else 8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        cross_attention_dim=heads * head_dim,
        num_layers=layers,
        caption_channels=caption,
    )


def tiny_ltx_video(folder: Path, seed: int = 0) -> Path:
    """An LTXPipeline with LTX-Video's shape rules (32x spatial, 8x temporal compression), tiny widths:
    one transformer layer of 4 heads x 8, an 8-channel VAE, a one-layer T5 and a tokenizer trained here."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXPipeline
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    tokenizer = _t5_tokenizer()
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2)
    )
    pipeline = LTXPipeline(
        transformer=ltx_video_transformer(),
        vae=_tiny_ltx_video_vae(),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )
    pipeline.save_pretrained(folder)
    return folder


def tiny_ltx_upsampler(folder: Path, seed: int = 0) -> Path:
    """An LTXLatentUpsamplePipeline (2x spatial) for the tiny LTX-Video's 8 latent channels."""
    import torch
    from diffusers import LTXLatentUpsamplePipeline
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel

    torch.manual_seed(seed)
    upsampler = LTXLatentUpsamplerModel(in_channels=8, mid_channels=32, num_blocks_per_stage=1, dims=3)
    LTXLatentUpsamplePipeline(vae=_tiny_ltx_video_vae(), latent_upsampler=upsampler).save_pretrained(folder)
    return folder


def _gemma_tokenizer():
    """A Gemma-style tokenizer (BOS, EOS, PAD, left padding) trained here on the test corpus."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    trainer = trainers.UnigramTrainer(vocab_size=120, special_tokens=specials, unk_token="<unk>")
    tokenizer.train_from_iterator(CORPUS * 10, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
        model_max_length=64,
    )


def tiny_ltx2(folder: Path, seed: int = 0) -> Path:
    """An LTX2Pipeline (video and its own sound) with LTX-2's VAE framing (32x space, 8x time), tiny
    widths, and a two-layer Gemma 3 text encoder 32 wide (the connectors' 4 heads x 8 must match it)."""
    import torch
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    torch.manual_seed(seed)
    tokenizer = _gemma_tokenizer()
    text = {"vocab_size": tokenizer.vocab_size, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "pad_token_id": 0}  # fmt: skip
    vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8}  # fmt: skip
    text_encoder = Gemma3ForConditionalGeneration(
        Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4)
    ).eval()
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
        cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4, audio_num_attention_heads=2,
        audio_attention_head_dim=4, audio_cross_attention_dim=8, num_layers=1, qk_norm="rms_norm_across_heads",
        caption_channels=32, rope_double_precision=False, rope_type="split",
    )  # fmt: skip
    connectors = LTX2TextConnectors(
        caption_channels=32, text_proj_in_factor=3, video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8, video_connector_num_layers=1,
        video_connector_num_learnable_registers=None, audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8, audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None, connector_rope_base_seq_len=32, rope_theta=10000.0,
        rope_double_precision=False, causal_temporal_positioning=False, rope_type="split",
    )  # fmt: skip
    vae = AutoencoderKLLTX2Video(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8),
        decoder_block_out_channels=(8, 8, 8), layers_per_block=(1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True), decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False,) * 4, downsample_type=("spatiotemporal",) * 3,
        upsample_type=("spatiotemporal",) * 3, upsample_residual=(False,) * 3, upsample_factor=(1,) * 3,
        timestep_conditioning=False, patch_size=4, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )  # fmt: skip
    vae.use_framewise_encoding = vae.use_framewise_decoding = False
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1, attn_resolutions=None, in_channels=2,
        resolution=32, latent_channels=2, norm_type="pixel", causality_axis="height", dropout=0.0,
        mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160, is_causal=True, mel_bins=8,
    )  # fmt: skip
    vocoder = LTX2Vocoder(
        in_channels=16, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[20, 32], upsample_factors=[10, 16],
        resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]], leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    )  # fmt: skip
    pipeline = LTX2Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, audio_vae=audio_vae, text_encoder=text_encoder,
        tokenizer=tokenizer, connectors=connectors, transformer=transformer, vocoder=vocoder,
    )  # fmt: skip
    pipeline.save_pretrained(folder)
    return folder
