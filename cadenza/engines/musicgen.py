"""MusicGen (transformers): music from text, and songs continued from their last seconds.

Weights come from the model manager (an explicit directory, CADENZA_MODELS_DIR/<id>, or the Hugging
Face cache, offline); they are loaded once per worker and kept in the LRU model cache. Songs longer than
the model's 30 s window are made window by window: each new window is prompted with the last seconds
of what exists and joined with a short crossfade. Progress is reported per decoding step and a cancel
stops decoding at the next step.

    cadenza generate "lofi hip hop" --engine musicgen --model ~/models/musicgen-small --duration 45
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cadenza import __version__
from cadenza.engines.base import EngineOutput, RunContext
from cadenza.engines.neural import NeuralEngine
from cadenza.media.io import read_audio
from cadenza.models.resolve import ResolvedModel, resolve
from cadenza.tasks import ExtendRequest, GenerateRequest, TaskRequest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub at run time

DEFAULT_MODEL = "musicgen-small"
CROSSFADE_SECONDS = 0.05


class MusicgenAdvanced(BaseModel):
    """MusicGen's sampling knobs (the UI draws them from this schema)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(DEFAULT_MODEL, description="A model id (cadenza models list) or a saved model directory")
    guidance_scale: float = Field(3.0, ge=0.0, le=15.0, description="Classifier-free guidance; 1 turns it off")
    temperature: float = Field(1.0, gt=0.0, le=3.0, description="Sampling temperature")
    top_k: int = Field(250, ge=0, le=4096, description="Sample among the k likeliest tokens (0: all)")
    top_p: float = Field(0.0, ge=0.0, le=1.0, description="Nucleus sampling mass (0: off)")
    window_seconds: float = Field(30.0, ge=4.0, le=30.0, description="Longest piece decoded at once")
    context_seconds: float = Field(10.0, ge=1.0, le=20.0, description="Seconds kept as the prompt of the next window")


def _load(resolved: ResolvedModel, device: str) -> tuple[Any, Any]:
    from transformers import AutoProcessor, MusicgenForConditionalGeneration

    from cadenza.engines.devices import dtype_for

    model = MusicgenForConditionalGeneration.from_pretrained(resolved.path, dtype=dtype_for(device))
    processor = AutoProcessor.from_pretrained(resolved.path)
    return model.to(device).eval(), processor


class MusicgenEngine(NeuralEngine):
    name = "musicgen"
    version = __version__
    tasks = ("generate", "extend")
    default_model = DEFAULT_MODEL

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return MusicgenAdvanced

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 5.0 * float(getattr(request, "duration", getattr(request, "seconds", 30.0)))

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Load (or reuse) the model, decode window by window, write the mix and the recipe."""
        import torch

        from cadenza.engines.devices import pick_device

        advanced = MusicgenAdvanced.model_validate(request.advanced)
        resolved = resolve(advanced.model, self.name)
        device = pick_device(ctx.device)
        ctx.progress(0.02, "load")
        model, processor = self.loaded(resolved, device, lambda: _load(resolved, device))
        sample_rate = int(model.config.audio_encoder.sampling_rate)
        torch.manual_seed(ctx.seed)
        if isinstance(request, ExtendRequest):
            source, source_rate = read_audio(ctx.source().path)
            prefix = _to_model_rate(source, source_rate, sample_rate)
            audio = self._decode(model, processor, request.prompt, request.seconds, prefix, advanced, ctx)
            name = f"{ctx.source().name}_extended"
        else:
            assert isinstance(request, GenerateRequest)
            audio = self._decode(model, processor, request.prompt, request.duration, None, advanced, ctx)
            name = "musicgen"
        ctx.check_cancelled()
        return self.publish(
            audio[:, None], sample_rate, name, request, ctx, resolved=resolved, device=device, advanced=advanced
        )

    def _decode(
        self,
        model: Any,
        processor: Any,
        prompt: str,
        seconds: float,
        prefix: np.ndarray | None,
        advanced: MusicgenAdvanced,
        ctx: RunContext,
    ) -> np.ndarray:
        """`seconds` of new audio after `prefix` (if any), one window at a time; returns prefix + new audio."""
        sample_rate = int(model.config.audio_encoder.sampling_rate)
        frame_rate = float(model.config.audio_encoder.frame_rate)
        produced = prefix
        made, target = 0.0, float(seconds)
        while made < target - 1.0 / frame_rate:
            context = None if produced is None else produced[-int(advanced.context_seconds * sample_rate) :]
            room = advanced.window_seconds - (0.0 if context is None else len(context) / sample_rate)
            chunk = min(room, target - made)
            fraction = (made / target, chunk / target)
            audio = self._window(model, processor, prompt, context, chunk, frame_rate, advanced, ctx, fraction)
            ctx.check_cancelled()
            wanted = int(chunk * sample_rate)
            if context is None:
                new = audio[:wanted]
                produced = new
            else:
                # The window starts with the model's own rendering of the context: keep the original and
                # crossfade into the new audio over the context's last samples, aligned in time.
                fade = min(int(CROSSFADE_SECONDS * sample_rate), len(context))
                new = audio[len(context) - fade : len(context) + wanted]
                produced = _join(produced, new, fade)
                new = new[fade:]
            made += len(new) / sample_rate
            if len(new) == 0:
                break
        assert produced is not None
        return produced

    def _window(
        self,
        model: Any,
        processor: Any,
        prompt: str,
        context: np.ndarray | None,
        seconds: float,
        frame_rate: float,
        advanced: MusicgenAdvanced,
        ctx: RunContext,
        fraction: tuple[float, float],
    ) -> np.ndarray:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        sample_rate = int(model.config.audio_encoder.sampling_rate)
        if context is None:
            inputs = processor(text=[prompt or "music"], padding=True, return_tensors="pt")
        else:
            inputs = processor(
                audio=context, sampling_rate=sample_rate, text=[prompt or "music"], padding=True, return_tensors="pt"
            )
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        steps = int(np.ceil(seconds * frame_rate)) + model.decoder.num_codebooks  # the delay pattern eats a few
        with torch.inference_mode(), _cancel_stops_generate(ctx):
            output = model.generate(
                **inputs,
                max_new_tokens=steps,
                do_sample=True,
                guidance_scale=advanced.guidance_scale,
                temperature=advanced.temperature,
                top_k=advanced.top_k,
                top_p=advanced.top_p or None,
                logits_processor=LogitsProcessorList([_StepProgress(ctx, steps, fraction)]),
                stopping_criteria=StoppingCriteriaList([_CancelRequested(ctx)]),
            )
        return output[0, 0].float().cpu().numpy()


@contextmanager
def _cancel_stops_generate(ctx: RunContext) -> Iterator[None]:
    """Stopping mid-step leaves the codebook delay pattern uneven and transformers' un-delaying raises:
    after a cancel, that error is the cancellation."""
    try:
        yield
    except RuntimeError:
        ctx.check_cancelled()
        raise


class _StepProgress:
    """A logits processor that only counts decoding steps, to report progress."""

    def __init__(self, ctx: RunContext, steps: int, fraction: tuple[float, float]) -> None:
        self.ctx, self.steps, self.done = ctx, steps, 0
        self.start, self.span = fraction

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        self.done += 1
        if self.done % 10 == 0:
            share = min(1.0, self.done / self.steps)
            self.ctx.progress(0.05 + 0.9 * (self.start + self.span * share), "decode")
        return scores


class _CancelRequested:
    """A stopping criterion that ends decoding at the next step once the job is cancelled."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        stop = self.ctx.cancel_event is not None and self.ctx.cancel_event.is_set()
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def _to_model_rate(audio: np.ndarray, rate: int, model_rate: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    mono = audio.mean(axis=1)
    if rate != model_rate:
        divisor = gcd(rate, model_rate)
        mono = resample_poly(mono, model_rate // divisor, rate // divisor)
    return mono.astype(np.float32)


def _join(before: np.ndarray, after: np.ndarray, fade: int) -> np.ndarray:
    """Append `after`, crossfading its first samples over the end of `before` (equal power)."""
    fade = min(fade, len(before), len(after))
    if fade == 0:
        return np.concatenate([before, after])
    ramp = np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)
    overlap = before[-fade:] * np.cos(ramp) + after[:fade] * np.sin(ramp)
    return np.concatenate([before[:-fade], overlap, after[fade:]]).astype(np.float32)
