"""The `comfyui` engine: Cadenza's video tasks (and music `generate`) as workflows on a ComfyUI server.

    CADENZA_COMFYUI_URL=http://gpu-box:8188 cadenza engines        # version, devices, queue
    cadenza workflows add my-ltx.json --task t2v --map prompt=240.text

A job (1) picks the workflow (the task's shipped one or `advanced.workflow`), (2) resolves sizes,
length, steps and seed from the request and preset (LTX shape rules applied and recorded), (3) checks
the patched copy against the server's /object_info, (4) uploads its files under content-addressed
names, (5) posts the prompt and follows it on the socket, (6) downloads the outputs into artifacts.
The recipe records the workflow's sha256, every patched value and the server.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.engines.comfyui.client import ComfyClient
from cadenza.engines.comfyui.library import Library
from cadenza.engines.comfyui.workflows import FILE_PARAMETERS, Workflow, check
from cadenza.errors import EngineError, EngineUnavailable, InputError
from cadenza.loras.choices import LoraChoice, loras_field
from cadenza.loras.comfy import server_file, server_files, with_lora_chain
from cadenza.tasks import TaskRequest

VIDEO_TASKS = ("t2v", "i2v", "a2v", "lipsync", "keyframe", "style")
# Presets scale the template's own steps and size, so they suit any workflow (distilled or not).
PRESETS: dict[str, dict[str, float]] = {
    "fast": {"steps": 0.5, "size": 0.75},
    "balanced": {"steps": 1.0, "size": 1.0},
    "quality": {"steps": 2.0, "size": 1.25},
}
PRESET_TIME = {"fast": 0.4, "balanced": 1.0, "quality": 2.6}
MIN_VERSION = (0, 3, 30)  # the core LTX-Video nodes with LTXVAddGuide; ACE-Step 1.5 needs a 2026 build
STATS_CACHE_SECONDS = 5.0
INFO_REUSE_SECONDS = 10.0  # a run reuses the /object_info its worker's availability check just fetched


class ComfyAdvanced(BaseModel):
    """Knobs of the comfyui engine (the UI draws them from this schema)."""

    model_config = ConfigDict(extra="forbid")

    workflow: str | None = Field(None, description="A workflow from `cadenza workflows list`; default: the shipped one")
    steps: int | None = Field(None, ge=1, le=1000, description="Sampling steps; default: the preset's")
    values: dict[str, Any] = Field(
        default_factory=dict, description="Extra mapped parameters of a user workflow, name -> value"
    )
    timeout_seconds: float = Field(3600.0, ge=1.0, le=86400.0, description="Give up on the prompt after this long")
    time_budget_s: float | None = Field(
        None, gt=0, le=86400.0, description="The job's time budget (retried once with double); default: the estimate"
    )
    reconnect_seconds: float = Field(60.0, ge=0.0, le=3600.0, description="How long to retry a dropped socket")
    loras: list[LoraChoice] = loras_field()


def version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.lstrip("v").split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def ltx_round(width: int, height: int, frames: int) -> tuple[int, int, int]:
    """LTX shape rules: sides multiples of 32 (at least 64), frames 8k+1."""
    side = lambda value: max(64, round(value / 32) * 32)  # noqa: E731
    return side(width), side(height), max(1, round((frames - 1) / 8)) * 8 + 1


class ComfyUIEngine:
    name = "comfyui"
    version = __version__
    tasks = (*VIDEO_TASKS, "generate")
    lora_families = ("ltx",)  # a LoraLoaderModelOnly chain after the LTX-Video workflows' model loader
    lora_tasks = VIDEO_TASKS
    budgeted = True  # the estimate is the job's time budget; a run past it is stopped on the server and retried once

    def __init__(self) -> None:
        self._stats: tuple[float, str, tuple[bool, str]] | None = None
        self._info: tuple[float, str, dict[str, Any]] | None = None

    # -- settings and availability ----------------------------------------------------------------
    @property
    def url(self) -> str:
        return (os.environ.get("CADENZA_COMFYUI_URL") or "").rstrip("/")

    def client(self) -> ComfyClient:
        return ComfyClient(self.url, os.environ.get("CADENZA_COMFYUI_HEADER"))

    def library(self) -> Library:
        from cadenza.config import Settings

        return Library(Settings().workflows_dir)

    def available(self) -> tuple[bool, str]:
        if not self.url:
            return False, "set CADENZA_COMFYUI_URL to a ComfyUI server, e.g. http://gpu-box:8188 (python main.py there)"
        if self._stats and self._stats[1] == self.url and time.monotonic() - self._stats[0] < STATS_CACHE_SECONDS:
            return self._stats[2]
        try:
            with self.client() as client:
                answer = self._describe_server(client)
        except (EngineUnavailable, EngineError) as exc:
            answer = (False, exc.message)
        self._stats = (time.monotonic(), self.url, answer)
        return answer

    def _describe_server(self, client: ComfyClient) -> tuple[bool, str]:
        stats = client.system_stats()
        system = stats.get("system", {})
        version = str(system.get("comfyui_version") or "unknown")
        if version != "unknown" and version_tuple(version) < MIN_VERSION:
            wanted = ".".join(map(str, MIN_VERSION))
            return False, f"ComfyUI {version} at {self.url} is too old: the LTX-Video nodes need {wanted} or newer"
        devices = ", ".join(
            f"{d.get('name', d.get('type'))} ({d.get('vram_free', 0) / 2**30:.0f} of "
            f"{d.get('vram_total', 0) / 2**30:.0f} GB free)"
            for d in stats.get("devices", [])
        )
        queue = client.queue()
        running, pending = len(queue.get("queue_running", [])), len(queue.get("queue_pending", []))
        return True, (
            f"ComfyUI {version} at {self.url}; devices: {devices or 'none reported'}; "
            f"queue: {running} running, {pending} pending"
        )

    def available_for(self, request: TaskRequest | None) -> tuple[bool, str]:
        """The server is up and the job's workflow has every node class and model file it names."""
        ok, reason = self.available()
        if not ok or request is None:
            return ok, reason
        advanced = ComfyAdvanced.model_validate(request.advanced)
        workflow = self.library().for_task(request.task, advanced.workflow)
        with self.client() as client:
            problems = check(workflow.graph, self._object_info(client, fresh=True))
        if problems:
            return False, self._missing(workflow, problems)
        return True, reason

    def _object_info(self, client: ComfyClient, *, fresh: bool) -> dict[str, Any]:
        """The server's node definitions (megabytes on a real server): fetched fresh when asked, else the
        copy fetched moments ago by the availability check of the same job."""
        cached = self._info
        if not fresh and cached and cached[1] == self.url and time.monotonic() - cached[0] < INFO_REUSE_SECONDS:
            return cached[2]
        info = client.object_info()
        self._info = (time.monotonic(), self.url, info)
        return info

    def _missing(self, workflow: Workflow, problems: list[str]) -> str:
        return f"workflow {workflow.name!r} cannot run on ComfyUI at {self.url}: " + "; ".join(problems)

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return ComfyAdvanced

    def estimate_seconds(self, request: TaskRequest) -> float:
        """A mid-range GPU's time: LTX-Video's 97 frames at 768x512 take about a minute with a distilled
        model; scaled by frames x pixels and the preset, plus a cold-load allowance, clamped."""
        budget = request.advanced.get("time_budget_s") if isinstance(request.advanced, dict) else None
        if isinstance(budget, int | float) and budget > 0:
            return float(budget)
        preset = getattr(request, "preset", "balanced")
        if request.task == "generate":
            return min(3600.0, 30.0 + 0.5 * float(getattr(request, "duration", 30.0)))
        fps = getattr(request, "fps", None) or 24
        frames = getattr(request, "frames", None) or round((getattr(request, "duration", None) or 4.0) * fps)
        pixels = (getattr(request, "width", None) or 768) * (getattr(request, "height", None) or 512)
        work = frames * pixels / (97 * 768 * 512)
        return min(3600.0, max(30.0, 30.0 + 60.0 * work * PRESET_TIME.get(preset, 1.0)))

    # -- one job ----------------------------------------------------------------------------------
    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Run the task's workflow on the server and store what it made; see the module docstring."""
        from cadenza.engines.comfyui.follow import Follower

        advanced = ComfyAdvanced.model_validate(request.advanced)
        workflow = self.library().for_task(request.task, advanced.workflow)
        ctx.progress(0.01, "connect")
        with self.client() as client:
            # 1-2. values from the request, preset and shape rules
            values, adjusted = self._values(request, ctx, workflow, advanced)
            soundtrack = self._files(request, ctx, workflow)
            # 3. check the patched copy before anything is queued
            server = self._server(client)
            problems = check(workflow.patched(values), self._object_info(client, fresh=False))
            if problems:  # ask again: the copy may predate a model the server has just been given
                problems = check(workflow.patched(values), self._object_info(client, fresh=True))
            if problems:
                raise EngineUnavailable(self._missing(workflow, problems))
            chain = self._lora_chain(ctx, client)
            # 4. upload the inputs
            ctx.progress(0.03, "upload")
            for name in FILE_PARAMETERS:
                if name in ctx.inputs and name in workflow.parameters:
                    values[name] = client.upload(ctx.inputs[name].path)
                    ctx.check_cancelled()
            graph = with_lora_chain(workflow.patched(values), chain)
            # 5. submit and follow
            follower = Follower(client, ctx, graph, advanced.timeout_seconds, advanced.reconnect_seconds)
            entry = follower.run()
            # 6. outputs
            artifacts, made = self._collect(client, entry, request, ctx, soundtrack)
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": request.task,
            "seed": ctx.seed,
            "server": server,
            "workflow": {
                "name": workflow.name,
                "origin": workflow.origin,
                "sha256": workflow.sha256,
                "map": {k: [f"{n}.{i}" for n, i in v] for k, v in workflow.parameters.items()},
            },
            "values": {k: v for k, v in values.items() if k not in FILE_PARAMETERS},
            "adjusted": adjusted,
            "prompt_id": follower.prompt_id,
            "outputs": made,
            "request": request.model_dump(mode="json") | {"seed": ctx.seed},
        }
        if chain:
            recipe["loras"] = [
                {"name": lora.name, "sha256": lora.sha256, "weight": lora.weight, "server_file": server_name}
                for lora, (server_name, _weight) in zip(ctx.loras, chain, strict=True)
            ]
        return EngineOutput(artifacts, recipe)

    def _lora_chain(self, ctx: RunContext, client: ComfyClient) -> list[tuple[str, float]]:
        """(server file, weight) of each adapter: ComfyUI loads LoRAs from its own models/loras folder."""
        if not ctx.loras:
            return []
        offered = server_files(self._object_info(client, fresh=True))
        return [(server_file(lora, lora.filename, offered, str(lora.path)), lora.weight) for lora in ctx.loras]

    def _server(self, client: ComfyClient) -> dict[str, Any]:
        system = client.system_stats().get("system", {})
        return {"url": self.url, "comfyui_version": system.get("comfyui_version")}

    def _values(
        self, request: TaskRequest, ctx: RunContext, workflow: Workflow, advanced: ComfyAdvanced
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Every parameter the workflow maps, resolved; and what was rounded or left out, and why."""
        values: dict[str, Any] = {"seed": ctx.seed}
        adjusted: dict[str, str] = {}
        preset = PRESETS[getattr(request, "preset", "balanced")]
        steps = workflow.literal("steps")
        if advanced.steps or isinstance(steps, int):
            values["steps"] = advanced.steps or max(1, round(steps * preset["steps"]))
        if getattr(request, "prompt", ""):
            values["prompt"] = request.prompt
        if request.task == "generate":
            values |= self._music_values(request)
        else:
            values |= self._video_values(request, ctx, workflow, preset, adjusted)
        unknown = set(advanced.values) - set(workflow.parameters)
        if unknown:
            raise InputError(
                f"advanced.values names {', '.join(sorted(unknown))}, which workflow {workflow.name!r} does not map; "
                f"it maps: {', '.join(sorted(workflow.parameters))}"
            )
        values |= advanced.values
        for name in list(values):
            if name not in workflow.parameters:
                adjusted[name] = "not used: the workflow has no input for it"
                del values[name]
        return values, adjusted

    def _music_values(self, request: Any) -> dict[str, Any]:
        values: dict[str, Any] = {"duration": float(request.duration), "lyrics": request.lyrics or "[Instrumental]"}
        if request.bpm:
            values["bpm"] = round(request.bpm)
        if request.key:
            values["key"] = request.key
        if request.time_signature:
            values["time_signature"] = request.time_signature.split("/")[0]
        return values

    def _video_values(
        self, request: Any, ctx: RunContext, workflow: Workflow, preset: dict[str, float], adjusted: dict[str, str]
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if request.negative_prompt:
            values["negative_prompt"] = request.negative_prompt
        fps = request.fps or workflow.literal("fps") or 24
        values["fps"] = float(fps) if isinstance(workflow.literal("fps"), float) else fps
        width = request.width or round((workflow.literal("width") or 768) * preset["size"])
        height = request.height or round((workflow.literal("height") or 512) * preset["size"])
        if request.frames is None and request.duration is None and "audio" in ctx.inputs:
            import av

            with av.open(str(ctx.inputs["audio"].path)) as container:
                seconds = float(container.duration or 0) / 1_000_000
            frames = max(1, round(seconds * fps))
        else:
            frames = request.frame_count(round(fps), (workflow.literal("frames") or 97) / fps)
        if any(node["class_type"].startswith(("LTXV", "EmptyLTXV")) for node in workflow.graph.values()):
            rounded = ltx_round(width, height, frames)
            if rounded != (width, height, frames):
                adjusted["shape"] = (
                    f"{width}x{height}, {frames} frames -> {rounded[0]}x{rounded[1]}, {rounded[2]} frames "
                    "(LTX: sides multiples of 32, frames 8k+1)"
                )
            width, height, frames = rounded
        values |= {"width": width, "height": height, "frames": frames}
        return values

    def _files(self, request: TaskRequest, ctx: RunContext, workflow: Workflow) -> Any:
        """Check the request's files against the workflow's inputs; returns audio to mux in afterwards when
        the workflow has no audio input of its own."""
        for name in FILE_PARAMETERS:
            if name in workflow.parameters and name not in ctx.inputs:
                raise InputError(f"workflow {workflow.name!r} needs {'an' if name[0] in 'aeiou' else 'a'} {name}")
            if name in ctx.inputs and name not in workflow.parameters and name != "audio":
                raise InputError(
                    f"workflow {workflow.name!r} has no input for {name}; add a workflow that loads one with "
                    "`cadenza workflows add FILE --task ...`"
                )
        if "audio" in ctx.inputs and "audio" not in workflow.parameters:
            return ctx.inputs["audio"].path
        return None

    def _collect(
        self, client: ComfyClient, entry: dict[str, Any], request: TaskRequest, ctx: RunContext, soundtrack: Any
    ) -> tuple[list[Artifact], list[dict[str, Any]]]:
        from cadenza.engines.comfyui.outputs import deliver_audio, deliver_video, kind_of, poster, saved_files
        from cadenza.media.io import mime_for

        ctx.progress(0.93, "download")
        artifacts: list[Artifact] = []
        made: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        preset = getattr(request, "preset", "balanced")
        for item in saved_files(entry):
            kind = kind_of(item["filename"])
            if kind is None:
                continue
            ctx.check_cancelled()
            number = counts[kind] = counts.get(kind, 0) + 1
            raw = client.download(item, ctx.scratch / f"comfy-{number}-{os.path.basename(item['filename'])}")
            record = {"node": item["node"], "filename": item["filename"], "kind": kind}
            if kind == "video":
                target = ctx.scratch / f"video{'' if number == 1 else f'_{number}'}.mp4"
                record["delivered"], record["reencoded"] = deliver_video(
                    raw, target, soundtrack=soundtrack, preset=preset
                )
                role = "video" if number == 1 else f"video:{number}"
                seconds = record["delivered"]["frames"] / max(record["delivered"]["fps"], 1e-6)
                artifacts.append(Artifact(target, "video", role, "video/mp4", seconds))
                if number == 1:
                    cover = poster(target, ctx.scratch / "poster.png")
                    artifacts.append(Artifact(cover, "image", "poster", "image/png"))
            elif kind == "audio":
                suffix = getattr(request, "format", "wav") if request.task == "generate" else "wav"
                artifact = deliver_audio(raw, ctx.scratch / f"audio{'' if number == 1 else f'_{number}'}.{suffix}")
                artifact.role = ("mix" if request.task == "generate" else "audio") if number == 1 else f"take:{number}"
                artifacts.append(artifact)
            else:
                artifacts.append(Artifact(raw, "image", f"image:{number}", mime_for(raw)))
            made.append(record)
        wanted = "audio" if request.task == "generate" else "video"
        if wanted not in counts:
            raise EngineError(
                f"ComfyUI finished prompt but saved no {wanted} (saved: "
                f"{', '.join(i['filename'] for i in saved_files(entry)) or 'nothing'}); does the workflow end in a "
                f"{'SaveAudio' if wanted == 'audio' else 'SaveVideo'} node?"
            )
        return artifacts, made
