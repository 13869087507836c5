"""Embedded signal-processing engines: mastering, harmonic/percussive stems, and a procedural song's own
stems. They need nothing beyond numpy, scipy and pyloudnorm.

    cadenza master song.wav --lufs -14 --true-peak -1
    cadenza stems JOB_ID            # native stems of a procedural song
    cadenza stems take.wav --engine hpss
"""

from __future__ import annotations

import shutil

import numpy as np
from pydantic import BaseModel

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.errors import InputError
from cadenza.media.io import audio_info, mime_for, read_audio, write_audio
from cadenza.media.loudness import master
from cadenza.media.memory import keep_freed_memory
from cadenza.media.separation import hpss
from cadenza.tasks import MasterRequest, StemsRequest, TaskRequest


class _Embedded:
    version = __version__

    def available(self) -> tuple[bool, str]:
        return True, "embedded: always available"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return None

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 5.0


def _recipe(engine: str, ctx: RunContext, request: TaskRequest, **extra: object) -> dict:
    source = ctx.source()
    return {
        "engine": engine,
        "engine_version": __version__,
        "task": request.task,  # type: ignore[attr-defined]
        "seed": ctx.seed,
        "request": request.model_dump(mode="json") | {"seed": ctx.seed},
        "source": {"name": source.name, "engine": (source.recipe or {}).get("engine")},
        **extra,
    }


class MasteringEngine(_Embedded):
    name = "dsp"
    tasks = ("master",)

    def __init__(self) -> None:
        keep_freed_memory()

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Measure, gain to the loudness target, limit under the true-peak ceiling, re-measure, write."""
        assert isinstance(request, MasterRequest)
        ctx.progress(0.05, "read")
        audio, rate = read_audio(ctx.source().path)
        ctx.check_cancelled()
        ctx.progress(0.2, "master")
        mastered, report = master(audio, rate, request.lufs, request.true_peak)
        ctx.check_cancelled()
        ctx.progress(0.9, "write")
        path = write_audio(ctx.scratch / f"mix.{request.format}", mastered, rate)
        artifacts = [Artifact(path, "audio", "mix", mime_for(path), len(mastered) / rate, rate)]
        return EngineOutput(artifacts, _recipe(self.name, ctx, request, master=report.to_dict(), sample_rate=rate))


class HpssEngine(_Embedded):
    """Harmonic/percussive split: two stems, named for what they are, that sum to the input."""

    name = "hpss"
    tasks = ("stems",)

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        assert isinstance(request, StemsRequest)
        ctx.progress(0.05, "read")
        audio, rate = read_audio(ctx.source().path)
        ctx.progress(0.2, "separate")
        parts = dict(zip(("harmonic", "percussive"), hpss(audio, ctx.check_cancelled), strict=True))
        ctx.progress(0.9, "write")
        artifacts = []
        for name, part in parts.items():
            path = write_audio(ctx.scratch / f"{name}.wav", part, rate, subtype="FLOAT")
            artifacts.append(Artifact(path, "stem", f"stem:{name}", "audio/wav", len(part) / rate, rate))
        residual = audio - sum(parts.values())
        return EngineOutput(
            artifacts, _recipe(self.name, ctx, request, residual_peak=float(np.abs(residual).max()), sample_rate=rate)
        )


class NativeStemsEngine(_Embedded):
    """The exact per-instrument stems a procedural song was rendered from."""

    name = "native"
    tasks = ("stems",)

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        source = ctx.source()
        if not source.stems:
            raise InputError(
                f"{source.name} was not made by the procedural engine, so it has no native stems; "
                "use --engine hpss (or demucs)"
            )
        artifacts = []
        for index, (name, path) in enumerate(sorted(source.stems.items())):
            ctx.check_cancelled()
            target = ctx.scratch / f"{name}.wav"
            shutil.copyfile(path, target)
            duration, rate = audio_info(target)
            artifacts.append(Artifact(target, "stem", f"stem:{name}", "audio/wav", duration, rate))
            ctx.progress((index + 1) / len(source.stems), "copy")
        return EngineOutput(artifacts, _recipe(self.name, ctx, request, stems=sorted(source.stems)))
