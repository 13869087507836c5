"""The no-op engine: finishes a generate job at once with no files.

It measures the job system's own overhead (`make bench`) and smoke-tests a deployment's queue,
workers and database without loading anything.
"""

from __future__ import annotations

from pydantic import BaseModel

from cadenza import __version__
from cadenza.engines.base import EngineOutput, RunContext
from cadenza.tasks import TaskRequest


class NoopEngine:
    name = "noop"
    version = __version__
    tasks = ("generate",)

    def available(self) -> tuple[bool, str]:
        return True, "always available; produces no audio (for benchmarks and smoke tests)"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return None

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 0.0

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        ctx.progress(1.0, "done")
        return EngineOutput([], {"engine": self.name, "engine_version": self.version, "seed": ctx.seed})
