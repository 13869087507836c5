"""Stable Audio Open (diffusers StableAudioPipeline): up to ~47 s of stereo 44.1 kHz audio from text.

Weights come from the model manager, offline, and stay loaded in the worker's model cache. Progress
and cancellation go through the pipeline's per-step callback. Needs torchsde (its scheduler).

    cadenza generate "ambient pads, slow evolving" --engine stable_audio --duration 30
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cadenza import __version__
from cadenza.engines.base import EngineOutput, RunContext
from cadenza.engines.neural import NeuralEngine
from cadenza.errors import InputError
from cadenza.loras.choices import LoraChoice, loras_field
from cadenza.models.resolve import ResolvedModel, resolve
from cadenza.tasks import GenerateRequest, TaskRequest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_MODEL = "stable-audio-open-1.0"


class StableAudioAdvanced(BaseModel):
    """Stable Audio's sampling knobs (the UI draws them from this schema)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(DEFAULT_MODEL, description="A model id (cadenza models list) or a saved pipeline directory")
    steps: int = Field(100, ge=1, le=500, description="Denoising steps; more is slower and cleaner")
    guidance_scale: float = Field(7.0, ge=0.0, le=20.0, description="Classifier-free guidance")
    negative_prompt: str = Field("low quality, distorted", max_length=500, description="What to steer away from")
    loras: list[LoraChoice] = loras_field()


def _load(resolved: ResolvedModel, device: str) -> Any:
    from diffusers import StableAudioPipeline

    from cadenza.engines.devices import dtype_for

    return StableAudioPipeline.from_pretrained(resolved.path, torch_dtype=dtype_for(device)).to(device)


def longest_seconds(pipeline: Any) -> float:
    """What the model can make in one go: its latent length times the autoencoder's hop."""
    hop = 1
    for ratio in pipeline.vae.config.downsampling_ratios:
        hop *= ratio
    return pipeline.transformer.config.sample_size * hop / pipeline.vae.config.sampling_rate


class StableAudioEngine(NeuralEngine):
    name = "stable_audio"
    version = __version__
    tasks = ("generate",)
    packages = ("torch", "transformers", "diffusers", "torchsde")
    default_model = DEFAULT_MODEL
    lora_families = ("stable_audio",)
    lora_weights = ("transformer", "")  # adapters attach to the DiT

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return StableAudioAdvanced

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 2.0 * float(request.advanced.get("steps", 100))

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Denoise in one pass (the model has no continuation), reporting each step; write the stereo mix."""
        assert isinstance(request, GenerateRequest)
        import torch

        from cadenza.engines.devices import pick_device
        from cadenza.loras.apply import attached

        advanced = StableAudioAdvanced.model_validate(request.advanced)
        resolved = resolve(advanced.model, self.name)
        device = pick_device(ctx.device)
        ctx.progress(0.02, "load")
        pipeline = self.loaded(resolved, device, lambda: _load(resolved, device))
        limit = longest_seconds(pipeline)
        if request.duration > limit:
            raise InputError(f"duration: {resolved.id} makes at most {limit:.1f} s in one piece; ask for less")

        def on_step(step: int, _timestep: Any, _latents: Any) -> None:
            ctx.check_cancelled()  # raising here stops the denoising loop
            ctx.progress(0.05 + 0.9 * (step + 1) / advanced.steps, "denoise")

        generator = torch.Generator(device="cpu").manual_seed(ctx.seed)
        # StableAudioPipeline has no load_lora_weights (no LoRA loader mixin in diffusers 0.42): the
        # adapters go onto its DiT with PEFT, as diffusers itself does for pipelines that have one.
        with attached(pipeline.transformer, ctx.loras):
            result = pipeline(
                request.prompt or "music",
                negative_prompt=advanced.negative_prompt or None,
                audio_end_in_s=request.duration,
                num_inference_steps=advanced.steps,
                guidance_scale=advanced.guidance_scale,
                generator=generator,
                callback=on_step,
                callback_steps=1,
            )
        ctx.check_cancelled()
        audio = result.audios[0].T.float().cpu().numpy()
        sample_rate = int(pipeline.vae.config.sampling_rate)
        return self.publish(
            audio, sample_rate, "stable_audio", request, ctx, resolved=resolved, device=device, advanced=advanced
        )
