"""The `motion` engine: video on the CPU with no model weights, so the video studio works on a fresh install.

from pathlib import Path
from cadenza.engines.base import RunContext
from cadenza.engines.motion.engine import MotionEngine
from cadenza.tasks import T2VRequest

out = MotionEngine().run(T2VRequest(prompt="Night drive", duration=3, seed=7),
                         RunContext(seed=7, scratch=Path("/tmp/title")))
print([a.role for a in out.artifacts], out.recipe["output"])

Every mode draws frames with numpy and OpenCV and hands them to `output.encode`, which writes the MP4
(H.264 yuv420p, AAC when there is audio); seeded randomness comes from `ctx.rng`, so the same recipe
gives the same frames.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from cadenza import __version__
from cadenza.engines.base import EngineOutput, RunContext
from cadenza.errors import InputError
from cadenza.tasks import TaskRequest, describe_validation_error

ADVANCED: dict[str, tuple[str, str]] = {
    "a2v": ("cadenza.engines.motion.visualizer", "VisualizerAdvanced"),
    "i2v": ("cadenza.engines.motion.camera", "CameraAdvanced"),
    "keyframe": ("cadenza.engines.motion.morph", "MorphAdvanced"),
    "style": ("cadenza.engines.motion.looks", "LooksAdvanced"),
    "t2v": ("cadenza.engines.motion.titles", "TitlesAdvanced"),
}
# Seconds per 720p frame on this class of machine (2 cores), per mode, before the preset factor.
FRAME_COST = {"a2v": 1 / 110, "i2v": 1 / 60, "keyframe": 1 / 12, "style": 1 / 20, "t2v": 1 / 70}
# CPU of a 20 s a2v render per preset against balanced (x264 settings in output.X264): fast 0.83,
# quality 2.5; drawing costs the same in every preset, so modes that draw more differ less.
PRESET_FACTOR = {"fast": 0.85, "balanced": 1.0, "quality": 2.0}


class MotionEngine:
    name = "motion"
    version = __version__
    tasks = ("t2v", "i2v", "a2v", "keyframe", "style")

    def available(self) -> tuple[bool, str]:
        return True, "embedded (numpy, OpenCV, PyAV): no weights needed"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        if task not in ADVANCED:
            return None
        import importlib

        module, name = ADVANCED[task]
        return getattr(importlib.import_module(module), name)

    def estimate_seconds(self, request: TaskRequest) -> float:
        task = request.task  # type: ignore[attr-defined]
        fps = getattr(request, "fps", None) or 30
        default_seconds = {"a2v": 180.0, "style": 10.0}.get(task, 5.0)
        frames = request.frame_count(fps, default_seconds) if hasattr(request, "frame_count") else 150
        width, height = getattr(request, "width", None) or 1280, getattr(request, "height", None) or 720
        scale = width * height / (1280 * 720)
        cost = FRAME_COST.get(task, 1 / 30) * PRESET_FACTOR.get(getattr(request, "preset", "balanced"), 1.0)
        return round(min(3600.0, max(2.0, 1.0 + frames * scale * cost)), 1)

    def check_request(self, request: TaskRequest) -> None:
        """A control video is for an IC-LoRA on ltx; taking it here and ignoring it would surprise."""
        if getattr(request, "control", None):
            raise InputError(
                "control: the motion engine does not follow a control video; a control video is followed by an "
                "IC-LoRA adapter on engine 'ltx' with an LTX-2 model (--engine ltx --lora NAME)"
            )

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Render the request's video into ctx.scratch: video.mp4, poster.png and recipe.json."""
        task = request.task  # type: ignore[attr-defined]
        if task not in ADVANCED:
            raise InputError(
                f"the motion engine does not serve task {task!r}; it serves {', '.join(self.tasks)}"
                + ("; lipsync needs a model engine: ltx (see `cadenza engines`)" if task == "lipsync" else "")
            )
        advanced = _advanced(self.advanced_model(task), request.advanced)  # type: ignore[arg-type]
        recipe: dict[str, Any] = {
            "engine": self.name,
            "engine_version": self.version,
            "task": task,
            "seed": ctx.seed,
            "request": request.model_dump(mode="json") | {"seed": ctx.seed, "advanced": advanced.model_dump()},
        }
        ctx.progress(0.01, "prepare")
        if task == "a2v":
            from cadenza.engines.motion.visualizer import run_visualizer

            return run_visualizer(request, advanced, ctx, recipe)
        if task == "i2v":
            from cadenza.engines.motion.camera import run_camera

            return run_camera(request, advanced, ctx, recipe)
        if task == "keyframe":
            from cadenza.engines.motion.morph import run_morph

            return run_morph(request, advanced, ctx, recipe)
        if task == "style":
            from cadenza.engines.motion.looks import run_looks

            return run_looks(request, advanced, ctx, recipe)
        from cadenza.engines.motion.titles import run_titles

        return run_titles(request, advanced, ctx, recipe)


def _advanced(model: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InputError("advanced." + describe_validation_error(exc)) from None
