"""IC-LoRA (in-context LoRA) for LTX-2: an adapter trained to follow a control video (depth, pose, edges ...)
that the pipeline encodes into extra latent tokens beside the ones it denoises (diffusers'
`LTX2InContextPipeline`).

Its weights are an ordinary LoRA on the LTX-2 transformer; nothing in the tensors says "in-context". What
does: the `reference_downscale_factor` key Lightricks' trainer writes into the safetensors metadata (the
control video is read at 1/factor of the output size), the file's name (`ltx-2-19b-ic-lora-depth-control`)
or the person adding it (`cadenza loras add FILE --ic-lora --control depth`). The control type is taken
from the same words; it names the kind of video the adapter expects, it does not make one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cadenza.errors import InputError
from cadenza.loras.inspect import FAMILY_LABELS, AdapterInfo

KINDS = ("lora", "ic-lora")
CONTROLS = ("canny", "depth", "pose", "union", "detailer")  # Lightricks' IC-LoRAs; others are accepted by name
CONTROL_RULE = "1 to 32 lowercase letters, digits or '-', e.g. " + ", ".join(CONTROLS)
MAX_DOWNSCALE = 8
_IC_WORDS = re.compile(r"(^|[^a-z])(ic[-_ ]?lora|in[-_ ]?context)([^a-z]|$)")
_CONTROL = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_METADATA_TEXT = ("modelspec.title", "modelspec.description", "training_type", "name", "ss_output_name")


@dataclass(frozen=True)
class InContext:
    """What an adapter is beyond its weights: a plain LoRA, or an IC-LoRA with its control and scale."""

    kind: str = "lora"
    control: str | None = None  # the kind of control video (depth, pose, canny ...); None: not said
    reference_downscale_factor: int = 1  # the control video is read at 1/factor of the output's size


def _downscale(metadata: dict[str, str], name: str) -> int | None:
    raw = metadata.get("reference_downscale_factor")
    if raw is None:
        return None
    try:
        factor = int(float(raw))
    except ValueError:
        factor = 0
    if not 1 <= factor <= MAX_DOWNSCALE or float(raw) != factor:
        raise InputError(
            f"{name}: its metadata says reference_downscale_factor={raw!r}; an IC-LoRA's factor is a whole number "
            f"from 1 to {MAX_DOWNSCALE}"
        )
    return factor


def classify(info: AdapterInfo, filename: str, *, kind: str | None = None, control: str | None = None) -> InContext:
    """Plain LoRA or IC-LoRA, from what the person said, else the metadata and the file's name; an IC-LoRA
    must be one for LTX-2's transformer."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"kind {kind!r} is not a kind of adapter; accepted: {', '.join(KINDS)}")
    if control is not None and not _CONTROL.match(control):
        raise InputError(f"control {control!r} is not a control type; use {CONTROL_RULE}")
    if kind == "lora":
        if control:
            raise InputError(f"control {control!r} is for an IC-LoRA, and this adapter was added as a plain LoRA")
        return InContext()
    words = " ".join([filename.lower(), *(info.metadata.get(key, "").lower() for key in _METADATA_TEXT)])
    factor = _downscale(info.metadata, filename)
    said = kind or ("ic-lora" if factor is not None or _IC_WORDS.search(words) or control else "lora")
    if said == "lora":
        return InContext()
    why = (
        "" if kind or control else f" (its {'metadata' if factor else 'name'} says IC-LoRA; add it with --plain if not)"
    )
    if info.family != "ltx":
        label = FAMILY_LABELS.get(info.family or "", "an adapter of another model")
        raise InputError(
            f"{filename} looks like {label}, not an IC-LoRA: IC-LoRAs are LTX-2 transformer adapters (engine ltx)" + why
        )
    if info.base_model not in (None, "ltx-2", "ltx-video-13b or ltx-2"):
        raise InputError(
            f"{filename} looks made for {info.base_model} (width {info.width}), but IC-LoRAs are for LTX-2, whose "
            f"in-context pipeline is the only one that reads a control video{why}"
        )
    info.base_model = "ltx-2"
    found = control or next((c for c in CONTROLS if re.search(rf"(^|[^a-z]){c}([^a-z]|$)", words)), None)
    return InContext("ic-lora", found, factor or 1)
