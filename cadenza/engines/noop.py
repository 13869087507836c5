"""The no-op engine: finishes a generate job at once with no files, or after `advanced.seconds`.

It measures the job system's own overhead (`make bench`) and smoke-tests a deployment's queue,
workers and database without loading anything. `advanced.seconds` keeps a job running that long,
reporting progress every 0.1 s, so event streams and cancellation can be exercised without real work.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from cadenza import __version__
from cadenza.engines.base import EngineOutput, RunContext
from cadenza.tasks import TaskRequest


class NoopAdvanced(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(0.0, ge=0, le=3600, description="Stay running this long, reporting progress")


class NoopEngine:
    name = "noop"
    version = __version__
    tasks = ("generate",)

    def available(self) -> tuple[bool, str]:
        return True, "always available; produces no audio (for benchmarks and smoke tests)"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return NoopAdvanced

    def estimate_seconds(self, request: TaskRequest) -> float:
        return NoopAdvanced.model_validate(request.advanced).seconds

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        seconds = NoopAdvanced.model_validate(request.advanced).seconds
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            ctx.progress(elapsed / seconds, "holding")
            ctx.check_cancelled()
            time.sleep(min(0.1, seconds - elapsed))
        ctx.progress(1.0, "done")
        return EngineOutput([], {"engine": self.name, "engine_version": self.version, "seed": ctx.seed})
