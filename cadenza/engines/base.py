"""The engine contract: a tiny Protocol, the RunContext an engine works through, and what it returns."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cadenza.errors import Cancelled, EngineError, EngineUnavailable, InputError

if TYPE_CHECKING:
    import numpy as np
    from pydantic import BaseModel

    from cadenza.tasks import TaskRequest

__all__ = [
    "Artifact",
    "Cancelled",
    "Engine",
    "EngineError",
    "EngineOutput",
    "EngineUnavailable",
    "InputError",
    "RunContext",
    "SourceAudio",
    "SourceFile",
]

ProgressCallback = Callable[[float, str], None]


@dataclass
class Artifact:
    """A file an engine wrote into its scratch dir; it becomes a stored artifact only if the run succeeds."""

    path: Path
    kind: str  # audio, stem, midi, lyrics, video, image, session, recipe
    role: str  # mix, midi, stem:<instrument>, recipe, ...
    mime: str
    duration_s: float | None = None
    sample_rate: int | None = None


@dataclass
class EngineOutput:
    artifacts: list[Artifact]
    recipe: dict[str, Any]  # every resolved parameter needed to reproduce the result


@dataclass
class SourceFile:
    """An input the worker resolved from an id: engines get files, never ids or the database."""

    path: Path  # the file: a job's main output (mix, video, poster), an artifact or an upload
    name: str  # a readable stem for output names
    recipe: dict[str, Any] | None = None  # the recipe of the job that made it, if any
    files: dict[str, Path] = field(default_factory=dict)  # role -> file of that job (stem:*, midi, lyrics, ...)

    @property
    def stems(self) -> dict[str, Path]:
        return {role.removeprefix("stem:"): path for role, path in self.files.items() if role.startswith("stem:")}


SourceAudio = SourceFile  # the name music engines know it by


@dataclass
class RunContext:
    """What an engine gets besides its request: seed, device, scratch dir, resolved inputs, progress and
    cancellation."""

    seed: int
    scratch: Path
    device: str = "cpu"
    on_progress: ProgressCallback | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    inputs: dict[str, SourceFile] = field(default_factory=dict)

    def source(self, name: str = "source") -> SourceFile:
        if name not in self.inputs:
            raise InputError(f"this task needs a {name}")
        return self.inputs[name]

    def progress(self, fraction: float, stage: str) -> None:
        if self.on_progress is not None:
            self.on_progress(min(max(fraction, 0.0), 1.0), stage)

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled("the job was cancelled")

    def rng(self, *names: str | int) -> np.random.Generator:
        """A generator derived from (seed, *names): independent streams that do not shift each other."""
        import numpy as np

        words = [zlib.crc32(str(name).encode()) for name in names]
        return np.random.default_rng(np.random.SeedSequence([self.seed, *words]))


@runtime_checkable
class Engine(Protocol):
    name: str
    version: str
    tasks: tuple[str, ...]

    def available(self) -> tuple[bool, str]:
        """Whether the engine can run here, and if not, why and how to fix it."""

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        """The pydantic model of this engine's extra parameters for `task`, if it has any."""

    def estimate_seconds(self, request: TaskRequest) -> float:
        """Rough wall time of a run, used for budgets and queue estimates."""

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Do the work, writing files into `ctx.scratch`."""
