"""IC-LoRA on the `ltx` engine: a `style` job whose adapter follows a control video (depth, pose, edges ...)
through diffusers' `LTX2InContextPipeline`, which encodes the control video into extra latent tokens that
the adapted transformer attends to while it denoises. The source video still gives the timing and sound.

The rules are checked at submission and again when the job runs (`check`): one IC-LoRA per job, task
`style`, a `control` video, an LTX-2 model. `control_frames` reads the control at the output's size divided
by the adapter's `reference_downscale_factor`, as many frames as the output has (cut to 8k+1: LTX's VAE
packs 8 frames per latent after the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cadenza.errors import InputError
from cadenza.loras.choices import LoraFile

PIPELINE = "LTX2InContextPipeline"


def in_context_adapter(loras: list[LoraFile]) -> LoraFile | None:
    """The job's IC-LoRA, if it has one."""
    return next((lora for lora in loras if lora.kind == "ic-lora"), None)


def _what(lora: LoraFile) -> str:
    return f"IC-LoRA ({lora.control} control)" if lora.control else "IC-LoRA"


def check(request: Any, loras: list[LoraFile], model_family: Any) -> None:
    """Refuse, naming the adapter, a job whose IC-LoRA cannot work: `model_family()` says `ltx` or `ltx2`
    for the model the job will use (read from its model_index.json, no weights loaded)."""
    chosen = [lora for lora in loras if lora.kind == "ic-lora"]
    control = getattr(request, "control", None)
    if not chosen:
        if control:
            raise InputError(
                "control: a control video is followed only by an IC-LoRA adapter, and none of this job's adapters "
                f"({', '.join(lora.name for lora in loras)}) is one; add one with --lora NAME (cadenza loras list "
                "shows each adapter's kind)"
            )
        return
    lora = chosen[0]
    if len(chosen) > 1:
        raise InputError(
            f"adapters {chosen[0].name!r} and {chosen[1].name!r} are both IC-LoRAs; a job follows one control video "
            "with one IC-LoRA (plain LoRAs may be added beside it)"
        )
    video = lora.control or "control"
    if request.task != "style":
        raise InputError(
            f"adapter {lora.name!r} is an {_what(lora)}: it follows a {video} video, which only the style task takes "
            f"(cadenza video style SOURCE --control {video.upper()}_VIDEO --lora {lora.name} --engine ltx), not "
            f"{request.task}"
        )
    if not control:
        raise InputError(
            f"adapter {lora.name!r} is an {_what(lora)} and needs a {video} video to follow: give it as control "
            f"(cadenza video style SOURCE --control {video.upper()}_VIDEO ...); the source video gives timing and sound"
        )
    family = model_family()
    if family != "ltx2":
        raise InputError(
            f"adapter {lora.name!r} is an {_what(lora)} for LTX-2, but the model of this job is LTX-Video, which has "
            "no in-context pipeline; choose an LTX-2 model (advanced.model or --model)"
        )


@dataclass
class Control:
    """The control video as the pipeline takes it, and what the recipe says about it."""

    frames: list[Any]  # PIL images at the reference size
    recipe: dict[str, Any]


def control_frames(path: Any, name: str, lora: LoraFile, width: int, height: int, frames: int) -> Control:
    """The control video's first frames (at most `frames`, cut to 8k+1) at (width, height) / the adapter's
    reference_downscale_factor; an InputError when that size breaks LTX's multiples of 32."""
    from PIL import Image

    from cadenza.engines.ltx.shapes import SPATIAL, TEMPORAL
    from cadenza.media.video import read_frames

    factor = lora.reference_downscale_factor
    size = (width // factor, height // factor)
    if width % factor or height % factor or size[0] % SPATIAL or size[1] % SPATIAL:
        raise InputError(
            f"adapter {lora.name!r} reads its control video at 1/{factor} of the output size, and {width}x{height} / "
            f"{factor} is not a whole multiple of {SPATIAL} a side; choose a width and height that are multiples of "
            f"{SPATIAL * factor}"
        )
    pictures = list(read_frames(path, size=size, limit=frames))
    if not pictures:
        raise InputError(f"control: {name} has no video frames")
    usable = (len(pictures) - 1) // TEMPORAL * TEMPORAL + 1
    recipe = {
        "pipeline": PIPELINE,
        "adapter": lora.name,
        "sha256": lora.sha256,
        "control_type": lora.control,
        "reference_downscale_factor": factor,
        "control": {"name": name, "frames": usable, "width": size[0], "height": size[1]},
    }
    return Control([Image.fromarray(p) for p in pictures[:usable]], recipe)
