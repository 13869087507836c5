"""Loading LTX pipelines from a resolved model and calling them for each mode. Imports torch and
diffusers, so only the engine's `run` imports this module.

One set of weights serves every mode of a family: the text-to-video pipeline is loaded once (and
kept in the worker's model cache), and the image, keyframe and video-to-video pipelines are built
from its components (`from_pipe`), sharing the weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadenza.errors import InputError

FAMILIES = {"ltx": "LTX-Video", "ltx2": "LTX-2"}


def family_of(folder: Path) -> str:
    """`ltx` (LTX-Video) or `ltx2` (LTX-2, with sound), from the saved pipeline's class name."""
    index = folder / "model_index.json"
    if not index.is_file():
        raise InputError(f"{folder} is not a diffusers pipeline (no model_index.json); LTX needs one")
    name = json.loads(index.read_text()).get("_class_name", "")
    if name.startswith("LTX2"):
        return "ltx2"
    if name.startswith("LTX"):
        return "ltx"
    raise InputError(f"{folder} holds a {name or 'unknown'} pipeline, not LTX-Video or LTX-2")


@dataclass
class Loaded:
    """A family's base pipeline on its device, and how it was set up to save memory."""

    family: str
    base: Any
    device: str
    offload: bool
    tiling: bool

    def for_mode(self, kind: str) -> Any:
        """The pipeline class of `kind` (t2v, i2v, condition; in_context for LTX-2) sharing the base's weights."""
        import diffusers

        names = {
            "ltx": {"t2v": "LTXPipeline", "i2v": "LTXImageToVideoPipeline", "condition": "LTXConditionPipeline"},
            "ltx2": {
                "t2v": "LTX2Pipeline",
                "i2v": "LTX2ImageToVideoPipeline",
                "condition": "LTX2ConditionPipeline",
                "in_context": "LTX2InContextPipeline",
            },
        }[self.family]
        cls = getattr(diffusers, names[kind])
        if type(self.base) is cls:
            return self.base
        pipeline = cls.from_pipe(self.base)
        pipeline.set_progress_bar_config(disable=True)
        return pipeline


def load(folder: Path, device: str, *, low_memory: bool) -> Loaded:
    """The family's base pipeline in bf16 on CUDA (float32 elsewhere); with `low_memory`, weights stay on
    the CPU and each component visits the GPU in turn (model CPU offload), and the VAE decodes in tiles."""
    import diffusers

    from cadenza.engines.devices import dtype_for

    family = family_of(folder)
    cls = diffusers.LTXPipeline if family == "ltx" else diffusers.LTX2Pipeline
    base = cls.from_pretrained(folder, dtype=dtype_for(device))
    base.set_progress_bar_config(disable=True)
    offload = low_memory and device.startswith("cuda")
    if offload:
        base.enable_model_cpu_offload(device=device)
    else:
        base.to(device)
    if low_memory:
        base.vae.enable_tiling()
    return Loaded(family, base, device, offload, low_memory)


def load_upsampler(folder: Path, loaded: Loaded) -> Any:
    """The latent upsampler of the family (the `quality` preset's second stage), sharing the VAE."""
    import diffusers

    cls = diffusers.LTXLatentUpsamplePipeline if loaded.family == "ltx" else diffusers.LTX2LatentUpsamplePipeline
    upsampler = cls.from_pretrained(folder, vae=loaded.base.vae, dtype=loaded.base.vae.dtype)
    upsampler.set_progress_bar_config(disable=True)
    return upsampler if loaded.offload else upsampler.to(loaded.device)


def condition(family: str, image: Any = None, video: Any = None, frame_index: int = 0, strength: float = 1.0) -> Any:
    """One frame condition of the family: an image at a frame, or a video from a frame on."""
    if family == "ltx2":
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        return LTX2VideoCondition(frames=video if video is not None else image, index=frame_index, strength=strength)
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    return LTXVideoCondition(image=image, video=video, frame_index=frame_index, strength=strength)


def reference(frames: list[Any], strength: float) -> Any:
    """An IC-LoRA's control video as LTX-2's in-context pipeline takes it."""
    from diffusers.pipelines.ltx2.pipeline_ltx2_ic_lora import LTX2ReferenceCondition

    return LTX2ReferenceCondition(frames=frames, strength=strength)
