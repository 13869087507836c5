"""A request's `loras: [{name, weight}]`: the field engines put in their advanced model, and its
resolution into stored files (at submission, and again when the job runs).

At submission each choice is pinned to the sha256 of the file its name holds, so the job record and the
recipe say exactly which file ran; a replay of that recipe finds the same file or is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cadenza.errors import InputError, NotFound
from cadenza.loras.fit import LoraTarget, layer_map, linear_layers
from cadenza.loras.inspect import FAMILY_LABELS, AdapterInfo, inspect_adapter
from cadenza.loras.store import NAME, NAME_RULE, LoraStore

MAX_ADAPTERS = 8


class LoraChoice(BaseModel):
    """One adapter a job applies: a stored adapter's name and how strongly (0: not at all)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="A stored adapter (cadenza loras list)")
    weight: float = Field(1.0, ge=-4.0, le=4.0, description="Strength; 1 as trained, 0 off")
    sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="The exact file; pinned at submission, checked on replay"
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r} is not an adapter name ({NAME_RULE})")
        return value


def loras_field() -> Any:
    """The `loras` field of a neural engine's advanced model."""
    return Field(
        default_factory=list,
        max_length=MAX_ADAPTERS,
        description="LoRA adapters to apply, [{name, weight}] (cadenza loras list)",
    )


@dataclass(frozen=True)
class LoraFile:
    """A stored adapter resolved for one job."""

    name: str
    sha256: str
    weight: float
    path: Path
    info: AdapterInfo
    layers: dict[str, str]  # adapter layer name -> module name in the adapted module
    filename: str = ""  # the name it was added from (a remote server may hold it under that name)
    kind: str = "lora"  # or ic-lora (cadenza.loras.incontext)
    control: str | None = None
    reference_downscale_factor: int = 1


def engine_families(engine: Any) -> tuple[str, ...]:
    return tuple(getattr(engine, "lora_families", ()))


ADAPTER_ENGINES = ("musicgen", "stable_audio", "ltx", "comfyui")  # engines that apply stored adapters


def adapter_support(engine: Any) -> str | None:
    """What `cadenza engines` says about an engine and adapters (None: nothing worth saying)."""
    families = engine_families(engine)
    if families:
        extra = getattr(engine, "lora_extra", "")  # what else it does with adapters (ltx: IC-LoRA)
        labels = ", ".join(FAMILY_LABELS[f].split(" ", 1)[1] for f in families)
        return f"adapters: {labels} (--lora){f'; {extra}' if extra else ''}"
    return getattr(engine, "lora_note", None)


def _choices(advanced: dict[str, Any]) -> list[LoraChoice]:
    raw = advanced.get("loras") or []
    if not isinstance(raw, list):
        raise InputError("advanced.loras must be a list of {name, weight}")
    try:
        choices = [LoraChoice.model_validate(item) for item in raw]
    except ValueError as exc:
        raise InputError(f"advanced.loras: {exc}") from None
    names = [c.name for c in choices]
    if len(set(names)) != len(names):
        raise InputError("advanced.loras names an adapter twice; give each adapter once with its weight")
    return choices


def resolve_loras(home: Path, engine: Any, advanced: dict[str, Any], target: LoraTarget | None) -> list[LoraFile]:
    """The stored files of the request's adapters, each checked against the engine and (when `target` is
    given) against the model's layers; an InputError names the adapter and what does not fit."""
    choices = _choices(advanced)
    if not choices:
        return []
    families = engine_families(engine)
    if not families:
        raise InputError(
            f"engine {engine.name!r} takes no adapters (LoRA); engines that do: {', '.join(ADAPTER_ENGINES)}"
        )
    store = LoraStore(home)
    layers = linear_layers(target) if target is not None else None
    resolved = []
    for choice in choices:
        try:
            record = store.get(choice.name)
        except NotFound as exc:
            pinned = f" (sha256 {choice.sha256[:12]})" if choice.sha256 else ""
            raise InputError(f"adapter {choice.name!r}{pinned} is not stored: {exc.message}") from None
        if choice.sha256 and choice.sha256 != record.sha256:
            raise InputError(
                f"adapter {choice.name!r} is now a different file (sha256 {record.sha256[:12]}) than the one this "
                f"request used ({choice.sha256[:12]}); add that file again under another name to replay it"
            )
        if record.family not in families:
            raise InputError(
                f"adapter {choice.name!r} is {FAMILY_LABELS.get(record.family, record.family)} and does not fit "
                f"engine {engine.name!r}, which takes {' or '.join(FAMILY_LABELS[f] for f in families)}"
            )
        path = store.file(record)
        if not path.is_file():
            raise InputError(f"adapter {choice.name!r}: its file is missing from the store; add it again")
        info = inspect_adapter(path, shown_name=choice.name, engine=record.family)
        if record.alpha is not None:  # a PEFT folder's config; a per-layer alpha in the file still wins
            info.layers = {k: replace(v, alpha=v.alpha or record.alpha) for k, v in info.layers.items()}
        mapping = layer_map(choice.name, info, layers, target.model_id) if layers is not None else {}
        kind = {"kind": record.kind, "control": record.control}
        kind["reference_downscale_factor"] = record.reference_downscale_factor  # type: ignore[assignment]
        resolved.append(
            LoraFile(choice.name, record.sha256, choice.weight, path, info, mapping, record.filename, **kind)
        )
    return resolved


def pinned(files: list[LoraFile]) -> list[dict[str, Any]]:
    """The request's `loras` with each file's sha256, as the job record and the recipe keep them."""
    return [{"name": f.name, "weight": f.weight, "sha256": f.sha256} for f in files]


def for_request(home: Path, engine: Any, request: Any) -> list[LoraFile]:
    """The adapters of `request` for `engine`, checked against the layers of the model it will use."""
    if not (request.advanced or {}).get("loras"):
        return []
    tasks = getattr(engine, "lora_tasks", None)  # an engine that takes adapters for some tasks only
    if tasks is not None and request.task not in tasks:
        raise InputError(f"engine {engine.name!r} takes adapters for {', '.join(tasks)} only, not {request.task}")
    target_of = getattr(engine, "lora_target", None)
    target = target_of(request) if target_of is not None and engine_families(engine) else None
    check = getattr(engine, "check_loras", None)  # an engine's own rules on kinds of adapter (IC-LoRA),
    if check is not None:  # first: "an IC-LoRA for LTX-2 on an LTX-Video model" says more than a layer mismatch
        check(request, resolve_loras(home, engine, request.advanced, None))
    files = resolve_loras(home, engine, request.advanced, target)
    if check is None and any(f.kind != "lora" for f in files):
        odd = next(f for f in files if f.kind != "lora")
        raise InputError(
            f"adapter {odd.name!r} is an IC-LoRA (it follows a control video); engine {engine.name!r} applies plain "
            "LoRAs only; IC-LoRAs run on engine 'ltx' with an LTX-2 model (task style with a control video)"
        )
    return files
