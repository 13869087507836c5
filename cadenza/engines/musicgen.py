"""MusicGen (transformers): music from text, songs continued from their last seconds, and covers that
follow a source's melody (MusicGen-Melody's chroma conditioning).

Weights come from the model manager (an explicit directory, CADENZA_MODELS_DIR/<id>, or the Hugging
Face cache, offline); they are loaded once per worker and kept in the LRU model cache. Songs longer than
the model's 30 s window are made window by window: each new window is prompted with the last seconds
of what exists and joined with a short crossfade. Progress is reported per decoding step and a cancel
stops decoding at the next step.

    cadenza generate "lofi hip hop" --engine musicgen --model ~/models/musicgen-small --duration 45
    cadenza cover song.wav --engine musicgen --prompt "bossa nova, nylon guitar"   # musicgen-melody
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cadenza import __version__
from cadenza.engines.base import EngineOutput, RunContext
from cadenza.engines.neural import NeuralEngine
from cadenza.errors import InputError
from cadenza.loras.choices import LoraChoice, loras_field
from cadenza.media.io import read_audio
from cadenza.models.resolve import ResolvedModel, resolve
from cadenza.tasks import CoverRequest, ExtendRequest, GenerateRequest, TaskRequest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub at run time

DEFAULT_MODEL = "musicgen-small"
MELODY_MODEL = "musicgen-melody"
CROSSFADE_SECONDS = 0.05


class MusicgenAdvanced(BaseModel):
    """MusicGen's sampling knobs (the UI draws them from this schema)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str | None = Field(
        None,
        description=f"A model id (cadenza models list) or a saved model directory; "
        f"default {DEFAULT_MODEL}, {MELODY_MODEL} for covers",
    )
    guidance_scale: float = Field(3.0, ge=0.0, le=15.0, description="Classifier-free guidance; 1 turns it off")
    temperature: float = Field(1.0, gt=0.0, le=3.0, description="Sampling temperature")
    top_k: int = Field(250, ge=0, le=4096, description="Sample among the k likeliest tokens (0: all)")
    top_p: float = Field(0.0, ge=0.0, le=1.0, description="Nucleus sampling mass (0: off)")
    window_seconds: float = Field(30.0, ge=4.0, le=30.0, description="Longest piece decoded at once")
    context_seconds: float = Field(10.0, ge=1.0, le=20.0, description="Seconds kept as the prompt of the next window")
    loras: list[LoraChoice] = loras_field()


def _load(resolved: ResolvedModel, device: str) -> tuple[Any, Any]:
    """The model and what prepares its inputs: MusicGen's processor, or MusicGen-Melody's tokenizer (its
    processor needs torchaudio, which has no CPU build; the chroma is computed here instead)."""
    from transformers import AutoConfig, AutoProcessor, AutoTokenizer

    from cadenza.engines.devices import dtype_for

    if AutoConfig.from_pretrained(resolved.path).model_type == "musicgen_melody":
        from transformers import MusicgenMelodyForConditionalGeneration as model_class

        processor = AutoTokenizer.from_pretrained(resolved.path)
    else:
        from transformers import MusicgenForConditionalGeneration as model_class

        processor = AutoProcessor.from_pretrained(resolved.path)
    model = model_class.from_pretrained(resolved.path, dtype=dtype_for(device))
    return model.to(device).eval(), processor


def is_melody(model: Any) -> bool:
    return model.config.model_type == "musicgen_melody"


class MusicgenEngine(NeuralEngine):
    name = "musicgen"
    version = __version__
    tasks = ("generate", "extend", "cover")
    default_model = DEFAULT_MODEL
    task_models: ClassVar[dict[str, str]] = {"cover": MELODY_MODEL}
    lora_families = ("musicgen",)
    lora_weights = ("", "decoder.")  # adapters attach to the decoder (its parameters are decoder.* in the model)

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return MusicgenAdvanced

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 5.0 * float(getattr(request, "duration", getattr(request, "seconds", 30.0)))

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Load (or reuse) the model, decode window by window, write the mix and the recipe."""
        import torch

        from cadenza.engines.devices import pick_device
        from cadenza.loras.apply import attached

        advanced = MusicgenAdvanced.model_validate(request.advanced)
        resolved = resolve(self.model_for(request.task, advanced.model), self.name)
        advanced = advanced.model_copy(update={"model": advanced.model or resolved.id})
        device = pick_device(ctx.device)
        ctx.progress(0.02, "load")
        model, processor = self.loaded(resolved, device, lambda: _load(resolved, device))
        sample_rate = int(model.config.audio_encoder.sampling_rate)
        torch.manual_seed(ctx.seed)
        with attached(model.decoder, ctx.loras):
            audio, name = self._task(request, model, processor, resolved, advanced, ctx)
        ctx.check_cancelled()
        return self.publish(
            audio[:, None], sample_rate, name, request, ctx, resolved=resolved, device=device, advanced=advanced
        )

    def _task(
        self,
        request: TaskRequest,
        model: Any,
        processor: Any,
        resolved: ResolvedModel,
        advanced: MusicgenAdvanced,
        ctx: RunContext,
    ) -> tuple[np.ndarray, str]:
        """The task's audio (mono) and a readable name for it."""
        sample_rate = int(model.config.audio_encoder.sampling_rate)
        if isinstance(request, ExtendRequest):
            prefix = _source_at(ctx, sample_rate)
            audio = self._decode(model, processor, request.prompt, request.seconds, prefix, advanced, ctx)
            name = f"{ctx.source().name}_extended"
        elif isinstance(request, CoverRequest):
            if not is_melody(model):
                raise InputError(
                    f"advanced.model: {resolved.id} has no melody conditioning; a musicgen cover needs "
                    f"{MELODY_MODEL} (or leave the model out)"
                )
            melody = Melody(_source_at(ctx, sample_rate), sample_rate, request.strength)
            seconds = len(melody.audio) / sample_rate
            audio = self._decode(model, processor, request.prompt, seconds, None, advanced, ctx, melody)
            name = f"{ctx.source().name}_cover"
        else:
            assert isinstance(request, GenerateRequest)
            audio = self._decode(model, processor, request.prompt, request.duration, None, advanced, ctx)
            name = "musicgen"
        return audio, name

    def _decode(
        self,
        model: Any,
        processor: Any,
        prompt: str,
        seconds: float,
        prefix: np.ndarray | None,
        advanced: MusicgenAdvanced,
        ctx: RunContext,
        melody: Melody | None = None,
    ) -> np.ndarray:
        """`seconds` of new audio after `prefix` (if any), one window at a time; returns prefix + new audio.
        With a melody, each window follows the melody over the same stretch of time."""
        sample_rate = int(model.config.audio_encoder.sampling_rate)
        frame_rate = float(model.config.audio_encoder.frame_rate)
        produced = prefix
        made, target = 0.0, float(seconds)
        while made < target - 1.0 / frame_rate:
            context = None if produced is None else produced[-int(advanced.context_seconds * sample_rate) :]
            context_seconds = 0.0 if context is None else len(context) / sample_rate
            chunk = min(advanced.window_seconds - context_seconds, target - made)
            fraction = (made / target, chunk / target)
            window_start = made - context_seconds  # in the melody's time: the window replays the context first
            chroma = None if melody is None else melody.chroma(model, window_start, advanced.window_seconds)
            inputs = _inputs(model, processor, prompt, context, chroma)
            audio = self._window(model, inputs, chunk, frame_rate, advanced, ctx, fraction)
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
        inputs: dict[str, Any],
        seconds: float,
        frame_rate: float,
        advanced: MusicgenAdvanced,
        ctx: RunContext,
        fraction: tuple[float, float],
    ) -> np.ndarray:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

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


def _inputs(
    model: Any, processor: Any, prompt: str, context: np.ndarray | None, chroma: Any | None = None
) -> dict[str, Any]:
    """The model's inputs for one window: the text, the audio it continues (if any), the melody (if any)."""
    text = [prompt or "music"]
    if not is_melody(model):
        sample_rate = int(model.config.audio_encoder.sampling_rate)
        audio = {} if context is None else {"audio": context, "sampling_rate": sample_rate}
        inputs = dict(processor(text=text, padding=True, return_tensors="pt", **audio))
    else:
        inputs = dict(processor(text, padding=True, return_tensors="pt"))
        if context is not None:  # the context's codec tokens, as MusicGen's processor makes for its own model
            codes = model.audio_encoder.encode(
                torch_audio(context, model.device, model.audio_encoder.dtype)
            ).audio_codes
            _frames, batch, codebooks, length = codes.shape
            inputs["decoder_input_ids"] = codes[0].reshape(batch * codebooks, length)
        if chroma is not None:
            inputs["input_features"] = chroma.to(model.dtype)
    return {name: value.to(model.device) for name, value in inputs.items()}


def torch_audio(mono: np.ndarray, device: Any, dtype: Any) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(mono)).to(device=device, dtype=dtype)[None, None]


class Melody:
    """A source's melody as MusicGen-Melody hears it: the dominant pitch class of each STFT frame.

    Computed as transformers' MusicgenMelodyFeatureExtractor does (16384-point STFT, 4096 hop, librosa's
    chroma filters, one-hot of the loudest class, each window padded to 30 s with silence), with
    torch.stft instead of torchaudio. `strength` blends it with the "no melody" input the model was
    trained with: 1 follows the melody, 0 ignores it.
    """

    N_FFT, HOP, CHUNK_SECONDS = 16384, 4096, 30

    def __init__(self, audio: np.ndarray, sample_rate: int, strength: float = 1.0) -> None:
        self.audio, self.sample_rate, self.strength = audio, sample_rate, strength

    def chroma(self, model: Any, start_seconds: float, window_seconds: float) -> Any:
        import torch
        from transformers.audio_utils import chroma_filter_bank

        rate, count = self.sample_rate, model.config.num_chroma
        begin = max(0, round(start_seconds * rate))
        segment = self.audio[begin : begin + int(window_seconds * rate)]
        padded = np.zeros(self.CHUNK_SECONDS * rate, dtype=np.float32)
        padded[: len(segment)] = segment[: len(padded)]
        waveform = torch.from_numpy(padded)
        spectrum = torch.stft(
            waveform, self.N_FFT, self.HOP, window=torch.hann_window(self.N_FFT), center=True, return_complex=True
        )
        power = spectrum.abs() ** 2  # (frequency, time)
        filters = chroma_filter_bank(num_frequency_bins=self.N_FFT, num_chroma=count, sampling_rate=rate, tuning=0)
        filters = torch.from_numpy(filters).float()
        loudest = (filters @ power).argmax(dim=0)  # (time,)
        one_hot = torch.nn.functional.one_hot(loudest, count).float()
        silent = torch.zeros_like(one_hot)
        silent[:, 0] = 1.0  # the model's own "no melody" input
        return (self.strength * one_hot + (1.0 - self.strength) * silent)[None]


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


def _source_at(ctx: RunContext, model_rate: int) -> np.ndarray:
    """The task's source as the model hears it: mono at its sample rate."""
    audio, rate = read_audio(ctx.source().path)
    return _to_model_rate(audio, rate, model_rate)


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
