"""LTX video through diffusers, from local weights only: LTX-Video (text, image, keyframes, video to
video, with the latent upsampler as the `quality` preset's second stage) and LTX-2 (video with its own
sound, as an extra `audio` artifact and the MP4's AAC track).

    cadenza generate ... --engine ltx   (t2v, i2v, keyframe, style; lipsync and a2v where diffusers can)

The estimate is the job's time budget (`budgeted`); the worker retries a run past it, or out of
memory, once (with tiling and CPU offload after a memory failure).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.engines.ltx.shapes import (
    MAX_BUDGET,
    MAX_FRAMES,
    PRESETS,
    REFINE_STEPS,
    Shape,
    estimate,
    nearest,
    resolve_shape,
)
from cadenza.engines.neural import NeuralEngine
from cadenza.errors import EngineUnavailable, InputError
from cadenza.loras.choices import LoraChoice, LoraFile, loras_field
from cadenza.models.resolve import ResolvedModel, resolve
from cadenza.tasks import TaskRequest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_MODEL = "ltx-video-0.9.7-distilled"
DEFAULT_UPSAMPLER = "ltxv-spatial-upscaler-0.9.7"
AUDIO_TASKS = ("a2v", "lipsync")
NO_AUDIO_CONDITIONING = (
    "a2v and lipsync need an audio-conditioned LTX-2 pipeline, which the installed diffusers does not have "
    "(LTX2Pipeline makes its own sound but cannot follow a given one); use the motion engine for a2v"
)


class LtxAdvanced(BaseModel):
    """LTX's knobs (the UI draws them from this schema)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(DEFAULT_MODEL, description="A model id (cadenza models list) or a saved pipeline directory")
    steps: int | None = Field(None, ge=1, le=100, description="Denoising steps; default: the preset's")
    guidance_scale: float = Field(1.0, ge=0.0, le=20.0, description="CFG; distilled checkpoints want 1 (none)")
    upsampler: str = Field(DEFAULT_UPSAMPLER, description="The latent upsampler of the quality preset (id or dir)")
    strength: float = Field(0.6, gt=0.0, le=1.0, description="style: how far the look departs from the source")
    round_shape: bool = Field(False, description="Round a size or frame count to LTX's rules instead of refusing")
    time_budget_s: float | None = Field(
        None, gt=0, le=MAX_BUDGET, description="The job's time budget; default: the estimate"
    )
    control_strength: float = Field(
        1.0, ge=0.0, le=1.0, description="IC-LoRA: how clean the control video looks to the model (1: fully clean)"
    )
    loras: list[LoraChoice] = loras_field()


def _likely_device() -> str:
    """Where a run will go, without importing torch for an estimate."""
    chosen = os.environ.get("CADENZA_DEVICE")
    if chosen and chosen != "auto":
        return chosen
    torch = sys.modules.get("torch")
    if torch is not None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if Path("/dev/nvidia0").exists() else "cpu"


def _to_pil(frame: Any) -> Any:
    from PIL import Image

    return Image.fromarray(frame)


class LtxEngine(NeuralEngine):
    name = "ltx"
    version = __version__
    tasks = ("t2v", "i2v", "a2v", "lipsync", "keyframe", "style")
    packages = ("torch", "transformers", "diffusers", "av")
    default_model = DEFAULT_MODEL
    lora_families = ("ltx",)
    lora_weights = ("transformer", "")  # adapters attach to the video transformer
    lora_extra = "IC-LoRA on style with an LTX-2 model and a control video (--control)"
    budgeted = True  # the estimate is the job's time budget; a timeout or OOM is retried once

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return LtxAdvanced

    def available(self) -> tuple[bool, str]:
        ok, reason = super().available()
        return ok, f"{reason}; {NO_AUDIO_CONDITIONING}"

    def available_for(self, request: TaskRequest | None) -> tuple[bool, str]:
        if request is not None and request.task in AUDIO_TASKS:
            return False, NO_AUDIO_CONDITIONING
        return super().available_for(request)

    def check_request(self, request: TaskRequest) -> None:
        """LTX's shape rules at submission, so a bad size is a 4xx / exit 2, not a failed job (style's
        length depends on its source and is checked when it runs)."""
        advanced = LtxAdvanced.model_validate(request.advanced)
        if request.task != "style":
            resolve_shape(request, round_shape=advanced.round_shape)
        if getattr(request, "control", None) and not advanced.loras:
            raise InputError(
                "control: a control video is followed only by an IC-LoRA adapter; add one with --lora NAME "
                "(cadenza loras list shows each adapter's kind)"
            )

    def check_loras(self, request: TaskRequest, loras: list[LoraFile]) -> None:
        """An IC-LoRA's rules (task style, a control video, an LTX-2 model), before anything loads."""
        from cadenza.engines.ltx.incontext import check
        from cadenza.engines.ltx.pipelines import family_of

        def model_family() -> str:
            return family_of(resolve(str(LtxAdvanced.model_validate(request.advanced).model), self.name).path)

        check(request, loras, model_family)

    def estimate_seconds(self, request: TaskRequest) -> float:
        advanced = LtxAdvanced.model_validate(request.advanced)
        if advanced.time_budget_s is not None:
            return advanced.time_budget_s
        shape = resolve_shape(request, round_shape=True)
        devices = sys.modules.get("cadenza.engines.devices")  # loaded models exist only where it was imported
        loaded = devices is not None and devices.MODELS.loaded(str(advanced.model))
        preset = getattr(request, "preset", "balanced")
        return estimate(request.task, preset, shape, steps=advanced.steps, loaded=loaded, device=_likely_device())

    # -- the run ------------------------------------------------------------------------------------
    def _load(self, resolved: ResolvedModel, device: str, low_memory: bool) -> Any:
        from cadenza.config import load_settings
        from cadenza.engines.devices import MODELS, weights_bytes
        from cadenza.engines.ltx.pipelines import load

        size = weights_bytes(resolved.path)
        if low_memory and device.startswith("cuda"):  # offloaded: one component on the GPU at a time
            parts = [weights_bytes(p) for p in resolved.path.iterdir() if p.is_dir()]
            size = max(parts or [size])
        budget = load_settings().model_memory_mb
        key = (f"{resolved.path}#{'low' if low_memory else 'full'}", device)
        return MODELS.get(key, size, int(budget * 2**20) if budget else None,
                          lambda: load(resolved.path, device, low_memory=low_memory))  # fmt: skip

    def _inputs(self, request: TaskRequest, ctx: RunContext, shape: Shape) -> dict[str, Any]:
        """The task's pictures, read and fitted to the output size."""
        from cadenza.media.video import read_frames, read_image

        size = (shape.width, shape.height)
        if request.task == "i2v":
            return {"image": _to_pil(read_image(ctx.source("image").path, size))}
        if request.task == "keyframe":
            first = _to_pil(read_image(ctx.source("first_frame").path, size))
            last = _to_pil(read_image(ctx.source("last_frame").path, size))
            return {"first": first, "last": last}
        if request.task == "style":
            source = ctx.source("video")
            frames = [_to_pil(f) for f in read_frames(source.path, size=size, limit=shape.frames)]
            return {"video": frames, "audio": self._soundtrack(ctx)}
        return {}

    @staticmethod
    def _soundtrack(ctx: RunContext) -> Path | None:
        """The source video's file when it has sound, which the output keeps."""
        from cadenza.media.video import probe

        source = ctx.source("video")
        return source.path if probe(source.path).has_audio else None

    def _style_shape(self, request: TaskRequest, ctx: RunContext, advanced: LtxAdvanced) -> Shape:
        """style keeps the source's timing: its fps and length (cut to the longest 8k+1 it holds)."""
        from cadenza.media.video import probe

        info = probe(ctx.source("video").path)
        if request.fps is None:
            request = request.model_copy(update={"fps": max(1, min(60, round(info.fps)))})
        if request.duration is None and request.frames is None:
            request = request.model_copy(update={"duration": info.duration_s})
        shape = resolve_shape(request, round_shape=advanced.round_shape)
        usable = max(9, nearest(min(info.frames, MAX_FRAMES) - 4, 8, 1))  # the longest 8k+1 within the source
        if shape.frames > info.frames:
            shape.rounded["frames"] = {"asked": shape.frames, "used": usable, "why": "the source is shorter"}
            shape.frames = usable
        return shape

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Check the shape, load (within the memory budget), denoise with progress and cancel per step,
        upsample and refine for `quality`, decode, and write the MP4, its poster, its sound and the recipe."""
        import torch

        from cadenza.engines.devices import dtype_for, pick_device
        from cadenza.engines.ltx.incontext import control_frames, in_context_adapter
        from cadenza.engines.ltx.pipelines import FAMILIES, condition, load_upsampler, reference
        from cadenza.loras.apply import attached_pipeline

        # 1. check inputs and shape
        if request.task in AUDIO_TASKS:
            raise EngineUnavailable(f"engine 'ltx' cannot do {request.task} here: {NO_AUDIO_CONDITIONING}")
        advanced = LtxAdvanced.model_validate(request.advanced)
        preset = PRESETS[request.preset]
        if request.task == "style":
            shape = self._style_shape(request, ctx, advanced)
        else:
            shape = resolve_shape(request, round_shape=advanced.round_shape)
        resolved = resolve(advanced.model, self.name)
        device = pick_device(ctx.device)
        in_context = in_context_adapter(ctx.loras)
        if in_context is not None:  # an IC-LoRA's rules and its control video, before the model loads
            self.check_loras(request, ctx.loras)
            source = ctx.source("control")
            control = control_frames(source.path, source.name, in_context, shape.width, shape.height, shape.frames)

        # 2. load
        ctx.progress(0.02, "load")
        loaded = self._load(resolved, device, ctx.low_memory)
        ctx.check_cancelled()
        # with an IC-LoRA the control video, not the source's pixels, is what the video follows
        inputs = self._inputs(request, ctx, shape) if in_context is None else {"audio": self._soundtrack(ctx)}
        upsampler, upsample_note = None, "not used by this preset"
        if preset.upsample:
            if loaded.family != "ltx":
                upsample_note = "skipped: the two-stage upsample is wired for LTX-Video only"
            elif shape.width % 64 or shape.height % 64:
                upsample_note = "skipped: the half-size first stage needs a width and height that are multiples of 64"
            else:
                try:
                    up = resolve(advanced.upsampler, self.name)
                    upsampler = load_upsampler(up.path, loaded)
                    upsample_note = f"{up.id} ({up.revision})"
                except EngineUnavailable as exc:
                    upsample_note = f"skipped: {exc.message}"

        # 3. denoise (one stage, or a half-size stage, the upsampler and a refining stage)
        steps = advanced.steps or preset.steps
        stages = [("denoise", steps)] + ([("refine", REFINE_STEPS)] if upsampler is not None else [])
        total = sum(n for _, n in stages)
        done = [0]

        def on_step(_pipe: Any, _step: int, _timestep: Any, _kwargs: dict) -> dict:
            ctx.check_cancelled()  # raising here stops the denoising loop
            done[0] += 1
            ctx.progress(0.05 + 0.85 * done[0] / total, stages[0][0] if done[0] <= stages[0][1] else "refine")
            return {}

        generator = torch.Generator(device="cpu").manual_seed(ctx.seed)
        common = {
            "prompt": request.prompt or "a video",
            "negative_prompt": request.negative_prompt or None,
            "num_frames": shape.frames,
            "frame_rate": shape.fps,
            "guidance_scale": advanced.guidance_scale,
            "generator": generator,
            "callback_on_step_end": on_step,
            # the family's prompt length, within what the saved tokenizer allows
            "max_sequence_length": min(
                1024 if loaded.family == "ltx2" else 128, loaded.base.tokenizer.model_max_length
            ),
        }

        def family_condition(**fields: Any) -> Any:
            return condition(loaded.family, **fields)

        conditions = None
        if in_context is None:  # an IC-LoRA's video follows the control's tokens, not the source's pixels
            conditions = self._conditions(request.task, inputs, shape, advanced, family_condition, loaded.family)
        # the adapters go onto the base pipeline's transformer, which every mode's pipeline shares
        with attached_pipeline(loaded.base, ctx.loras):
            result: Any
            if in_context is not None:
                pipeline = loaded.for_mode("in_context")
                result = pipeline(
                    width=shape.width, height=shape.height, num_inference_steps=steps, output_type="np",
                    reference_conditions=[reference(control.frames, advanced.control_strength)],
                    reference_downscale_factor=in_context.reference_downscale_factor, **common,
                )  # fmt: skip
            elif upsampler is None:
                kind = {"t2v": "t2v", "i2v": "i2v"}.get(request.task, "condition")
                pipeline = loaded.for_mode(kind)
                extra = {"image": inputs["image"]} if kind == "i2v" else {}
                if kind == "condition":
                    extra = {"conditions": conditions}
                    if request.task == "style" and loaded.family == "ltx":
                        extra["denoise_strength"] = advanced.strength
                result = pipeline(width=shape.width, height=shape.height, num_inference_steps=steps,
                                  output_type="np", **common, **extra)  # fmt: skip
            else:
                pipeline = loaded.for_mode("condition")
                low_w, low_h = shape.width // 2, shape.height // 2
                low_inputs = self._resized(inputs, low_w, low_h)
                low_conditions = self._conditions(request.task, low_inputs, shape, advanced, family_condition, "ltx")
                latents = pipeline(conditions=low_conditions, width=low_w, height=low_h, num_inference_steps=steps,
                                   output_type="latent", **common).frames  # fmt: skip
                ctx.progress(0.05 + 0.85 * steps / total, "upsample")
                upscaled = upsampler(latents=latents, output_type="latent").frames
                ctx.check_cancelled()
                result = pipeline(conditions=conditions, width=low_w * 2, height=low_h * 2, latents=upscaled,
                                  denoise_strength=0.4, num_inference_steps=REFINE_STEPS, output_type="np",
                                  **common)  # fmt: skip
        ctx.check_cancelled()

        # 4. write the video, its poster, its sound and the recipe
        ctx.progress(0.93, "encode")
        frames = _uint8_frames(result.frames[0])
        height, width = frames.shape[1:3]
        audio_path, sample_rate, audio_seconds = None, None, None
        if getattr(result, "audio", None) is not None:
            audio_path, sample_rate, audio_seconds = self._write_audio(
                result.audio, loaded.base, ctx.scratch / "audio.wav"
            )
        soundtrack = audio_path or inputs.get("audio")
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": request.task,
            "seed": ctx.seed,
            "family": FAMILIES[loaded.family],
            "model": {"id": resolved.id, "revision": resolved.revision, "source": resolved.source},
            "device": device,
            "dtype": str(dtype_for(device)).removeprefix("torch."),
            "memory": {"cpu_offload": loaded.offload, "vae_tiling": loaded.tiling},
            "preset": request.preset,
            "steps": steps,
            "refine_steps": REFINE_STEPS if upsampler is not None else 0,
            "upsample": upsample_note,
            "audio_seconds": audio_seconds,
            "shape": shape.recipe() | {"width": int(width), "height": int(height)},
            "request": request.model_dump(mode="json")
            | {"seed": ctx.seed, "advanced": _parameters(advanced, in_context is not None)},
        }
        if in_context is not None:
            recipe["in_context"] = control.recipe | {"strength": advanced.control_strength}
        return self._publish(frames, shape.fps, soundtrack, audio_path, sample_rate, request.preset, recipe, ctx)

    # -- helpers of run ---------------------------------------------------------------------------------
    @staticmethod
    def _conditions(
        task: str, inputs: dict, shape: Shape, advanced: LtxAdvanced, condition: Any, family: str
    ) -> list | None:
        if task == "i2v" and "image" in inputs:
            return [condition(image=inputs["image"], frame_index=0)]
        if task == "keyframe":
            return [
                condition(image=inputs["first"], frame_index=0),
                condition(image=inputs["last"], frame_index=shape.frames - 1),
            ]
        if task == "style":
            # LTX-Video re-noises the source (denoise_strength); LTX-2 conditions on it more loosely instead
            strength = 1.0 if family == "ltx" else 1.0 - advanced.strength
            return [condition(video=inputs["video"], frame_index=0, strength=strength)]
        return None

    @staticmethod
    def _resized(inputs: dict, width: int, height: int) -> dict:
        def fit(image: Any) -> Any:
            return image.resize((width, height))

        return {k: ([fit(f) for f in v] if isinstance(v, list) else fit(v)) if k != "audio" and v is not None else v
                for k, v in inputs.items()}  # fmt: skip

    @staticmethod
    def _write_audio(audio: Any, pipeline: Any, path: Path) -> tuple[Path, int, float]:
        """LTX-2's own sound, (channels, samples) at its vocoder's rate, as a WAV."""
        import numpy as np

        from cadenza.media.io import write_audio

        samples = audio[0].float().cpu().numpy() if hasattr(audio, "float") else np.asarray(audio[0])
        rate = int(getattr(pipeline.vocoder.config, "output_sampling_rate", 24000))
        return write_audio(path, samples.T.astype(np.float32), rate), rate, samples.shape[-1] / rate

    def _publish(self, frames: Any, fps: int, soundtrack: Path | None, audio_path: Path | None,
                 sample_rate: int | None, preset: str, recipe: dict, ctx: RunContext) -> EngineOutput:  # fmt: skip
        from cadenza.media.video import VideoWriter, write_image

        height, width = frames.shape[1:3]
        video_path = ctx.scratch / "ltx.mp4"
        with VideoWriter(video_path, int(width), int(height), fps, audio=soundtrack, preset=preset) as video:
            for frame in frames:
                video.write(frame)
        poster = write_image(frames[len(frames) // 2], ctx.scratch / "poster.png")
        recipe_path = ctx.scratch / "recipe.json"
        recipe_path.write_text(json.dumps(recipe, indent=2))
        seconds = len(frames) / fps
        artifacts = [
            Artifact(video_path, "video", "video", "video/mp4", seconds),
            Artifact(poster, "image", "poster", "image/png"),
        ]
        if audio_path is not None:
            artifacts.append(
                Artifact(audio_path, "audio", "audio", "audio/wav", recipe.get("audio_seconds"), sample_rate)
            )
        artifacts.append(Artifact(recipe_path, "recipe", "recipe", "application/json"))
        return EngineOutput(artifacts, recipe)


def _parameters(advanced: LtxAdvanced, in_context: bool) -> dict[str, Any]:
    """The advanced parameters for the recipe; a run without adapters records none, nor one without an
    IC-LoRA a control strength (so plain recipes stay as they were)."""
    parameters = advanced.model_dump()
    if not parameters.get("loras"):
        parameters.pop("loras", None)
    if not in_context:
        parameters.pop("control_strength", None)
    return parameters


def _uint8_frames(frames: Any) -> Any:
    """(frames, height, width, 3) floats in [0, 1] -> uint8, cropped to even sizes for H.264."""
    import numpy as np

    array = np.asarray(frames)
    array = array[:, : array.shape[1] // 2 * 2, : array.shape[2] // 2 * 2]
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
