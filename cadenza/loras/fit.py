"""Does an adapter fit a model? Checked against the model's own weight headers, before anything loads.

Every adapted layer must exist in the module the engine adapts (MusicGen's decoder, a DiT) as a linear
layer whose (outputs, inputs) equal the adapter's (B rows, A columns). The same mapping (adapter layer
name -> module name) is what `apply` attaches to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cadenza.errors import InputError
from cadenza.loras.header import weight_shapes
from cadenza.loras.inspect import AdapterInfo, flat


@dataclass(frozen=True)
class LoraTarget:
    """The module an engine attaches adapters to: its model, the weight files holding it, and the prefix
    of its parameter names in those files (MusicGen's decoder is `decoder.` in the full model)."""

    model_id: str
    files: tuple[Path, ...]
    prefix: str = ""


def linear_layers(target: LoraTarget) -> dict[str, tuple[int, int]]:
    """Module name (relative to the adapted module) -> (out_features, in_features) of its linear layers."""
    layers = {}
    for key, shape in weight_shapes(list(target.files)).items():
        if key.startswith(target.prefix) and key.endswith(".weight") and len(shape) == 2:
            layers[key[len(target.prefix) : -len(".weight")]] = (shape[0], shape[1])
    return layers


def layer_map(adapter: str, info: AdapterInfo, layers: dict[str, tuple[int, int]], model_id: str) -> dict[str, str]:
    """Adapter layer name -> module name, or an InputError naming the adapter and the first mismatch.

    Names are compared without wrapper prefixes and with dots as underscores (kohya's spelling); a model
    layer whose name ends the adapter's (at a name boundary) matches, the longest such layer winning.
    """
    by_flat = {name.replace(".", "_"): name for name in layers}
    mapping: dict[str, str] = {}
    missing = []
    for layer in info.layers:
        wanted = flat(layer)
        found = by_flat.get(wanted)
        if found is None:
            ends = [f for f in by_flat if wanted.endswith("_" + f)]
            found = by_flat[max(ends, key=len)] if ends else None
        if found is None:
            missing.append(layer)
        else:
            mapping[layer] = found
    if missing:
        raise InputError(
            f"adapter {adapter!r} does not fit {model_id}: {len(missing)} of its {len(info.layers)} layers are "
            f"not in the model (first: {missing[0]}); it looks made for "
            f"{info.base_model or 'another model'} (width {info.width})"
        )
    for layer, module in mapping.items():
        spec, (out_features, in_features) = info.layers[layer], layers[module]
        if (spec.out_features, spec.in_features) != (out_features, in_features):
            raise InputError(
                f"adapter {adapter!r} does not fit {model_id}: layer {module} maps {in_features} -> {out_features} "
                f"features in the model but {spec.in_features} -> {spec.out_features} in the adapter; it looks made "
                f"for {info.base_model or 'a model'} of width {info.width}"
            )
    return mapping
