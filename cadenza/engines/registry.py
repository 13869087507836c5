"""Which engines exist, which serve a task, and whether each can run here.

Engine modules are imported lazily so that listing engines never pulls torch or other heavy packages.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from pydantic import ValidationError

from cadenza.engines.base import Engine, SourceAudio
from cadenza.errors import EngineUnavailable, InputError
from cadenza.tasks import TaskRequest, describe_validation_error

# name -> (module:attribute, tasks). Tasks are listed here too, so routing a request needs no import.
ENGINES: dict[str, tuple[str, tuple[str, ...]]] = {
    "procedural": ("cadenza.engines.procedural.engine:ProceduralEngine", ("generate", "edit", "extend", "cover")),
    "noop": ("cadenza.engines.noop:NoopEngine", ("generate",)),
    "dsp": ("cadenza.engines.dsp:MasteringEngine", ("master",)),
    "native": ("cadenza.engines.dsp:NativeStemsEngine", ("stems",)),
    "hpss": ("cadenza.engines.dsp:HpssEngine", ("stems",)),
    "demucs": ("cadenza.engines.demucs:DemucsEngine", ("stems",)),
    "musicgen": ("cadenza.engines.musicgen:MusicgenEngine", ("generate", "extend", "cover")),
    "stable_audio": ("cadenza.engines.stable_audio:StableAudioEngine", ("generate",)),
    "acestep": ("cadenza.engines.acestep:AceStepEngine", ("generate", "cover", "edit", "extend")),
    "daw": ("cadenza.engines.daw:ExportEngine", ("export",)),
    "rhyme": ("cadenza.engines.lyrics.engines:RhymeEngine", ("lyrics",)),
    "llm": ("cadenza.engines.lyrics.engines:LlmEngine", ("lyrics",)),
    "motion": ("cadenza.engines.motion.engine:MotionEngine", ("t2v", "i2v", "a2v", "keyframe", "style")),
    "ltx": ("cadenza.engines.ltx:LtxEngine", ("t2v", "i2v", "a2v", "lipsync", "keyframe", "style")),
    "comfyui": (
        "cadenza.engines.comfyui.engine:ComfyUIEngine",
        ("t2v", "i2v", "a2v", "lipsync", "keyframe", "style", "generate"),
    ),
}
# stems: `native` instead when the source has its own stems (see default_engine).
DEFAULTS: dict[str, str] = {
    "generate": "procedural",
    "edit": "procedural",
    "extend": "procedural",
    "master": "dsp",
    "stems": "hpss",
    "export": "daw",
    "lyrics": "rhyme",
    "cover": "procedural",
    "t2v": "motion",
    "i2v": "motion",
    "a2v": "motion",
    "keyframe": "motion",
    "style": "motion",
    "lipsync": "ltx",  # needs a model: the embedded engine cannot make a face speak
}


@dataclass(frozen=True)
class EngineInfo:
    name: str
    tasks: tuple[str, ...]
    available: bool
    reason: str


@cache
def load(name: str) -> Engine:
    """The engine instance, created once per process."""
    if name not in ENGINES:
        raise InputError(f"unknown engine {name!r}; accepted: {', '.join(ENGINES)}")
    target, _ = ENGINES[name]
    module_name, attribute = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineUnavailable(f"engine {name!r} needs the package {exc.name!r}: {exc}") from exc
    return getattr(module, attribute)()


def default_engine(task: str, source: SourceAudio | None = None) -> str | None:
    """The task's default engine; for stems, a song's own stems when it has them."""
    if task == "stems" and source is not None and source.stems:
        return "native"
    return DEFAULTS.get(task)


def pick(
    task: str, engine: str | None = None, source: SourceAudio | None = None, request: TaskRequest | None = None
) -> Engine:
    """The engine for `task`: the one asked for, or the task's default. Raises if it cannot serve it.

    Engines whose availability depends on the request (a model named in it) answer `available_for`.
    """
    name = engine or default_engine(task, source)
    if name is None:
        raise InputError(f"no engine serves task {task!r}")
    if name in ENGINES and task not in ENGINES[name][1]:
        serving = [n for n, (_, tasks) in ENGINES.items() if task in tasks]
        raise InputError(f"engine {name!r} does not serve task {task!r}; engines that do: {', '.join(serving)}")
    instance = load(name)
    check = getattr(instance, "available_for", None)
    ok, reason = check(request) if check is not None and request is not None else instance.available()
    if not ok:
        raise EngineUnavailable(f"engine {name!r} is unavailable: {reason}")
    return instance


def check(engine: Engine, task: str, request: TaskRequest) -> None:
    """The engine's own rules for a request: its advanced parameters, then its `check_request` (LTX's
    shapes). InputError names what is wrong; the service calls it at submission, the worker again."""
    advanced_model = engine.advanced_model(task)
    if advanced_model is not None:
        try:
            advanced_model.model_validate(request.advanced)
        except ValidationError as exc:
            raise InputError("advanced." + describe_validation_error(exc)) from None
    rules = getattr(engine, "check_request", None)
    if rules is not None:
        rules(request)


def describe() -> list[EngineInfo]:
    infos = []
    for name, (_, tasks) in ENGINES.items():
        try:
            ok, reason = load(name).available()
        except EngineUnavailable as exc:
            ok, reason = False, exc.message
        infos.append(EngineInfo(name, tasks, ok, reason))
    return infos


def advanced_schemas(name: str) -> dict[str, dict | None]:
    """The JSON schema of an engine's advanced parameters for each task it serves (None: it has none)."""
    try:
        engine = load(name)
    except EngineUnavailable:
        return {}
    schemas: dict[str, dict | None] = {}
    for task in ENGINES[name][1]:
        model = engine.advanced_model(task)
        schemas[task] = model.model_json_schema() if model else None
    return schemas
