"""What a LoRA file is, from its header alone: its layers, rank, alpha, dtype, metadata, and the engine
(family) and base model it was made for.

Accepted key styles: PEFT / diffusers (`<layer>.lora_A.weight`, `<layer>.lora_B.weight`, optional
`<layer>.alpha`) and kohya (`<layer>.lora_down.weight`, `<layer>.lora_up.weight`, `<layer>.alpha`, the
layer path written with underscores). Families are told apart by layer names and widths:

- `musicgen`: MusicGen's decoder (`...decoder.layers.N.self_attn.q_proj`, `fc1`, `lm_heads.N`); its width
  names the base model (1024 small, 1536 medium or melody, 2048 large; melody has no cross-attention).
- `stable_audio`: Stable Audio's DiT (`transformer_blocks.N.attn1.to_q`, ...): width 1536, cross-attention
  with grouped key/value heads (attn2.to_k narrower than the width) fed by 768-wide text features.
- `ltx`: LTX-Video's transformer (same layer names; width 2048 or 4096, attn2 fed at the model's own width)
  and LTX-2's (`audio_attn1`, `video_to_audio_attn`, ...).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.errors import InputError
from cadenza.loras.header import Header, read_header

FAMILIES = ("musicgen", "stable_audio", "ltx")
FAMILY_LABELS = {
    "musicgen": "a MusicGen decoder LoRA",
    "stable_audio": "a Stable Audio DiT LoRA",
    "ltx": "an LTX-Video transformer LoRA",
}
ACCEPTED = (
    "accepted: LoRA adapters in safetensors (PEFT/diffusers lora_A/lora_B or kohya lora_down/lora_up keys) for "
    "MusicGen's decoder (musicgen), Stable Audio's DiT (stable_audio) or LTX-Video's transformer (ltx)"
)
PREFIXES = ("base_model.model.", "transformer.", "diffusion_model.", "model.diffusion_model.", "lora_unet_",
            "lora_transformer_", "unet.")  # fmt: skip
_PEFT = re.compile(r"^(?P<layer>.+)\.lora_(?P<part>A|B)(?:\.default)?\.weight$")
_KOHYA = re.compile(r"^(?P<layer>.+)\.lora_(?P<part>down|up)\.weight$")
_ALPHA = re.compile(r"^(?P<layer>.+)\.alpha$")
_MUSICGEN = re.compile(r"(^|_)(decoder_layers_\d+_((self|encoder)_attn_(q|k|v|out)_proj|fc[12])|lm_heads_\d+)$")
_DIT = re.compile(r"(^|_)transformer_blocks_\d+_")
_DIT_OUTER = re.compile(  # a DiT's layers outside its blocks (input and output projections, conditioning)
    r"(^|_)(proj_in|proj_out|timestep_proj_\d+|global_proj_\d+|cross_attention_proj_\d+|caption_projection_linear_\d"
    r"|time_embed_\w+|audio_proj_in|audio_proj_out)$"
)
_LTX2 = re.compile(r"(^|_)transformer_blocks_\d+_(audio_attn[12]|audio_to_video_attn|video_to_audio_attn|audio_ff)_")
_OTHERS = (  # what a refused adapter looks like, by its layer names
    (re.compile(r"(lora_te\d?_|text_encoder|text_model)"), "a text-encoder LoRA"),
    (re.compile(r"(down_blocks|up_blocks|mid_block|input_blocks|output_blocks)"), "a UNet LoRA of an image model"),
    (re.compile(r"(single_transformer_blocks|double_blocks|single_blocks)"), "a Flux image-model LoRA"),
    (re.compile(r"(^|_)layers_\d+_(self_attn|mlp)_"), "a language-model LoRA (layers.N.self_attn / mlp)"),
)
MUSICGEN_WIDTHS = {1024: "musicgen-small", 1536: "musicgen-medium", 2048: "musicgen-large"}
LTX_WIDTHS = {2048: "ltx-video-2b", 4096: "ltx-video-13b or ltx-2"}
TRIGGER_KEYS = ("trigger_words", "trigger_phrase", "modelspec.trigger_phrase", "activation_text", "instance_prompt")
BASE_KEYS = ("base_model", "base_model_name_or_path", "ss_base_model_version", "ss_sd_model_name",
             "modelspec.architecture", "cadenza.base_model")  # fmt: skip


@dataclass(frozen=True)
class Layer:
    """One adapted linear layer: name as written in the file (without the LoRA suffix) and its shapes."""

    name: str
    rank: int
    in_features: int
    out_features: int
    alpha: float | None = None


@dataclass
class AdapterInfo:
    style: str  # peft or kohya
    layers: dict[str, Layer]
    dtype: str
    metadata: dict[str, str] = field(default_factory=dict)
    family: str | None = None
    base_model: str | None = None
    width: int | None = None
    triggers: list[str] = field(default_factory=list)

    @property
    def ranks(self) -> list[int]:
        return sorted({layer.rank for layer in self.layers.values()})

    def summary(self) -> dict[str, object]:
        return {
            "family": self.family,
            "base_model": self.base_model,
            "width": self.width,
            "style": self.style,
            "layers": len(self.layers),
            "rank": self.ranks[0] if len(self.ranks) == 1 else self.ranks,
            "dtype": self.dtype,
            "triggers": self.triggers,
        }


def flat(layer: str) -> str:
    """A layer name without its wrapper prefixes, dots as underscores (how kohya writes it)."""
    stripped = True
    while stripped:
        stripped = False
        for prefix in PREFIXES:
            if layer.startswith(prefix):
                layer, stripped = layer[len(prefix) :], True
    return layer.replace(".", "_")


def _metadata_alpha(metadata: dict[str, str]) -> float | None:
    for key in ("lora_adapter_metadata", "transformer.lora_adapter_metadata"):
        if key in metadata:
            try:
                return float(json.loads(metadata[key])["lora_alpha"])
            except (ValueError, KeyError, TypeError):
                pass
    for key in ("lora_alpha", "ss_network_alpha"):
        try:
            return float(metadata[key])
        except (KeyError, ValueError):
            pass
    return None


def _layers(header: Header, name: str) -> tuple[str, dict[str, Layer], str]:
    down: dict[str, tuple[int, int]] = {}
    up: dict[str, tuple[int, int]] = {}
    styles, dtypes = set(), set()
    for key, tensor in header.tensors.items():
        if "lora_magnitude_vector" in key:
            raise InputError(f"{name} is a DoRA adapter ({key}); {ACCEPTED}")
        if any(part in key for part in ("hada_", "lokr_", ".diff", ".oft_")):
            raise InputError(f"{name} is a LyCORIS (LoHa/LoKr/OFT) adapter ({key}); {ACCEPTED}")
        match = _PEFT.match(key) or _KOHYA.match(key)
        if match:
            if len(tensor.shape) != 2:
                raise InputError(f"{name}: {key} is {len(tensor.shape)}-D (a convolution LoRA); {ACCEPTED}")
            styles.add("peft" if match["part"] in "AB" else "kohya")
            dtypes.add(tensor.dtype)
            (down if match["part"] in ("A", "down") else up)[match["layer"]] = tensor.shape  # type: ignore[assignment]
        elif _ALPHA.match(key):
            continue  # a scalar in the data: `apply` reads it; classifying needs only the shapes
        else:
            raise InputError(f"{name}: {key!r} is not a LoRA weight; {ACCEPTED}")
    if not down:
        raise InputError(f"{name} has no LoRA weights; {ACCEPTED}")
    if len(styles) > 1:
        raise InputError(f"{name} mixes PEFT (lora_A/lora_B) and kohya (lora_down/lora_up) keys; {ACCEPTED}")
    layers = {}
    for layer, (rank, in_features) in down.items():
        if layer not in up:
            raise InputError(f"{name}: {layer} has a down (A) matrix but no up (B) matrix")
        out_features, up_rank = up[layer]
        if up_rank != rank:
            raise InputError(f"{name}: {layer} has rank {rank} in its A matrix but {up_rank} in its B matrix")
        layers[layer] = Layer(layer, rank, in_features, out_features)
    if missing := sorted(set(up) - set(down)):
        raise InputError(f"{name}: {missing[0]} has an up (B) matrix but no down (A) matrix")
    return styles.pop(), layers, "/".join(sorted(dtypes))


def _classify(info: AdapterInfo, name: str) -> None:
    """Family, width and base model from layer names and shapes (and metadata hints)."""
    by_flat = {flat(layer): spec for layer, spec in info.layers.items()}
    names = list(by_flat)
    if all(_MUSICGEN.search(n) for n in names):
        info.family = "musicgen"
        widths = [spec.in_features for n, spec in by_flat.items() if re.search(r"self_attn_q_proj$", n)]
        info.width = widths[0] if widths else None
        cross = any("encoder_attn" in n for n in names)
        base = MUSICGEN_WIDTHS.get(info.width or 0)
        # MusicGen-Melody has no cross-attention: only an adapter without encoder_attn layers may be for it
        info.base_model = "musicgen-medium or musicgen-melody" if base == "musicgen-medium" and not cross else base
        return
    if any(_DIT.search(n) for n in names) and all(_DIT.search(n) or _DIT_OUTER.search(n) for n in names):
        q = [spec for n, spec in by_flat.items() if re.search(r"_attn1_to_q$", n)]
        attn1 = [spec for n, spec in by_flat.items() if re.search(r"_attn1_to_[kv]$", n)]
        cross = [spec for n, spec in by_flat.items() if re.search(r"_attn2_to_[kv]$", n)]
        width = q[0].in_features if q else (attn1[0].in_features if attn1 else None)
        info.width = width
        grouped = bool(cross) and width is not None and any(spec.out_features < width for spec in cross)
        narrow_cross = bool(cross) and width is not None and any(spec.in_features != width for spec in cross)
        hint = " ".join(info.metadata.get(key, "") for key in BASE_KEYS).lower()
        if any(_LTX2.search(n) for n in names):
            info.family, info.base_model = "ltx", "ltx-2"
        elif grouped or narrow_cross or width == 1536 or "stable-audio" in hint or "stable_audio" in hint:
            info.family = "stable_audio"
            info.base_model = "stable-audio-open-1.0" if width == 1536 else None
        elif width in LTX_WIDTHS or "ltx" in hint:
            info.family, info.base_model = "ltx", LTX_WIDTHS.get(width or 0)
        else:
            info.family = None  # both DiTs use these layer names: the caller must say which
        return
    for pattern, looks in _OTHERS:
        if any(pattern.search(n) for n in names):
            raise InputError(f"{name} looks like {looks} (e.g. {next(iter(info.layers))}); {ACCEPTED}")
    odd = next(n for n in info.layers if not (_MUSICGEN.search(flat(n)) or _DIT.search(flat(n))))
    raise InputError(f"{name}: layer {odd!r} is not a layer of any engine Cadenza adapts; {ACCEPTED}")


def _triggers(metadata: dict[str, str], given: str | None) -> list[str]:
    text = given if given is not None else next((metadata[k] for k in TRIGGER_KEYS if metadata.get(k)), "")
    return [word.strip() for word in re.split(r"[,\n]", text) if word.strip()]


def inspect_adapter(path: Path, *, shown_name: str | None = None, engine: str | None = None,
                    trigger: str | None = None) -> AdapterInfo:  # fmt: skip
    """Describe the adapter at `path`, or refuse it saying what it looks like and what is accepted.

    `engine` settles which diffusion transformer a `transformer_blocks` adapter is for when its widths
    do not tell, and must agree with what the layers say otherwise.
    """
    name = shown_name or path.name
    header = read_header(path, name)
    style, layers, dtype = _layers(header, name)
    info = AdapterInfo(style, layers, dtype, header.metadata)
    alpha = _metadata_alpha(header.metadata)
    if alpha is not None:
        info.layers = {k: Layer(v.name, v.rank, v.in_features, v.out_features, alpha) for k, v in layers.items()}
    _classify(info, name)
    if engine is not None:
        if engine not in FAMILIES:
            raise InputError(f"--engine {engine!r} takes no adapters; engines that do: {', '.join(FAMILIES)}")
        dit_either = info.family in (None, "stable_audio", "ltx") and engine in ("stable_audio", "ltx")
        if info.family is not None and info.family != engine and not (dit_either and info.base_model is None):
            raise InputError(
                f"{name} looks like {FAMILY_LABELS[info.family]}"
                f"{f' for {info.base_model}' if info.base_model else ''} (width {info.width}), not one for {engine}"
            )
        info.family = engine
    if info.family is None:
        raise InputError(
            f"{name} is a diffusion-transformer LoRA (transformer_blocks.*) of width {info.width}, which could be "
            "for stable_audio or ltx; say which with --engine"
        )
    info.triggers = _triggers(header.metadata, trigger)
    return info
