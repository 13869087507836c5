"""A stand-in ComfyUI server that follows its documented protocol (ComfyUI's server.py and execution.py).

A ComfyUI server with a GPU and multi-gigabyte models is a remote service, the one thing these tests may
stand in for; Cadenza's engine, job service, worker, CLI and API are the real ones. The stand-in:

- serves /object_info from the node definitions transcribed from ComfyUI's source (data/object_info.json)
  and validates every posted graph against them like ComfyUI does: an unknown class is an
  `invalid_prompt`; a missing required input, a link to a missing node or output, a value out of range or
  not in a list is a 400 with `node_errors` in ComfyUI's shape;
- runs prompts one at a time from a queue, streaming `status`, `execution_start`, `execution_cached`,
  `executing`, `progress`, `executed`, `execution_success` (or `execution_error`,
  `execution_interrupted`) and `executing` with `node: null` on /ws to the prompt's client id;
- writes real outputs of the size, frame count, rate and length the graph asks for: an MP4 through
  cadenza.media.video.VideoWriter (its first/last frames are the guide images, a style job's frames are
  its source's, inverted), FLAC through soundfile;
- serves /history, /view, /upload/image, /interrupt, /queue (GET and delete), /system_stats, every route
  also under /api.

Behaviour knobs make it slow, silent, failing, forgetful or socket-dropping on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import uvicorn
from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse

from tests.engines.comfyui.standin_media import write_video
from tests.engines.comfyui.standin_validation import UPLOAD_FLAGS, validate

DATA = Path(__file__).resolve().parent / "data"
VERSION = "0.8.1"
AUDIO_RATE = 44100  # VAEDecodeAudio's rate


def node_definitions() -> dict[str, Any]:
    return json.loads((DATA / "object_info.json").read_text())


@dataclass
class Behaviour:
    step_seconds: float = 0.01  # per sampler step
    silent_seconds: float = 0.0  # VAEDecode sends nothing for this long (like a real decode)
    fail_class: str | None = None  # raise at the first node of this class
    drop_socket_at_step: int | None = None  # close every socket once, at this sampler step
    forget_at_step: int | None = None  # a restart: forget the queue and history at this step
    hold: bool = False  # keep prompts pending until released
    video_codec: str = "libx264"  # "mpeg4": a file Cadenza must convert
    required_header: tuple[str, str] | None = None  # a proxy's token


@dataclass
class Prompt:
    prompt_id: str
    number: int
    graph: dict[str, Any]
    client_id: str


@dataclass
class StandIn:
    behaviour: Behaviour = field(default_factory=Behaviour)
    missing_models: set[str] = field(default_factory=set)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="comfy-standin-")))
    posted: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    history: dict[str, Any] = field(default_factory=dict)
    pending: list[Prompt] = field(default_factory=list)
    running: Prompt | None = None
    interrupted: set[str] = field(default_factory=set)
    sockets: dict[str, WebSocket] = field(default_factory=dict)
    connections: int = 0

    def __post_init__(self) -> None:
        self.inputs, self.outputs = self.folder / "input", self.folder / "output"
        self.inputs.mkdir(parents=True, exist_ok=True)
        self.outputs.mkdir(parents=True, exist_ok=True)
        self.counter = 0
        self.wake: asyncio.Event | None = None
        self.released = threading.Event()

    # -- node definitions --------------------------------------------------------------------------
    def object_info(self) -> dict[str, Any]:
        info = copy.deepcopy(node_definitions())
        for definition in info.values():
            for group in ("required", "optional"):
                for spec in definition["input"].get(group, {}).values():
                    if isinstance(spec[0], list):
                        spec[0][:] = [o for o in spec[0] if o not in self.missing_models]
                        if len(spec) > 1 and any(spec[1].get(flag) for flag in UPLOAD_FLAGS):
                            spec[0][:] = sorted(p.name for p in self.inputs.iterdir())
        return info

    # -- validation, as execution.validate_prompt ------------------------------------------------
    def validate(self, graph: dict[str, Any]) -> dict[str, Any] | None:
        return validate(graph, self.object_info(), self.inputs)

    # -- the app -----------------------------------------------------------------------------------
    def app(self) -> FastAPI:
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> Any:
            self.wake = asyncio.Event()
            task = asyncio.get_running_loop().create_task(self.worker())
            yield
            task.cancel()

        app = FastAPI(lifespan=lifespan)
        router = APIRouter()
        standin = self

        @app.middleware("http")
        async def proxy_token(request: Request, call_next: Any) -> Any:
            needed = standin.behaviour.required_header
            if needed and request.headers.get(needed[0]) != needed[1]:
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return await call_next(request)

        @router.get("/system_stats")
        def system_stats() -> dict[str, Any]:
            return {
                "system": {
                    "os": "posix",
                    "ram_total": 64 * 2**30,
                    "ram_free": 48 * 2**30,
                    "comfyui_version": VERSION,
                    "python_version": "3.12.3",
                    "pytorch_version": "2.9.0+cu128",
                    "embedded_python": False,
                    "argv": ["main.py", "--listen"],
                },
                "devices": [
                    {
                        "name": "cuda:0 Stand-in GPU : cudaMallocAsync",
                        "type": "cuda",
                        "index": 0,
                        "vram_total": 24 * 2**30,
                        "vram_free": 20 * 2**30,
                        "torch_vram_total": 0,
                        "torch_vram_free": 0,
                    }
                ],
            }

        @router.get("/object_info")
        def object_info() -> dict[str, Any]:
            return standin.object_info()

        @router.post("/upload/image")
        async def upload(request: Request) -> Any:
            form = await request.form()
            image = form.get("image")
            if image is None or isinstance(image, str):
                return JSONResponse({"error": "no image"}, status_code=400)
            name = Path(image.filename or "upload").name
            (standin.inputs / name).write_bytes(await image.read())
            standin.uploads.append(name)
            return {"name": name, "subfolder": "", "type": "input"}

        @router.post("/prompt")
        async def prompt(request: Request) -> Any:
            body = await request.json()
            graph = body.get("prompt")
            standin.posted.append(body)
            if not isinstance(graph, dict):
                return JSONResponse(
                    {
                        "error": {
                            "type": "no_prompt",
                            "message": "No prompt provided",
                            "details": "",
                            "extra_info": {},
                        },
                        "node_errors": {},
                    },
                    status_code=400,
                )
            problems = standin.validate(graph)
            if problems is not None:
                return JSONResponse(problems, status_code=400)
            standin.counter += 1
            item = Prompt(str(uuid.uuid4()), standin.counter, graph, body.get("client_id", ""))
            standin.pending.append(item)
            assert standin.wake is not None
            standin.wake.set()
            return {"prompt_id": item.prompt_id, "number": item.number, "node_errors": {}}

        @router.get("/queue")
        def queue() -> dict[str, Any]:
            entry = lambda p: [p.number, p.prompt_id, p.graph, {"client_id": p.client_id}, []]  # noqa: E731
            return {
                "queue_running": [entry(standin.running)] if standin.running else [],
                "queue_pending": [entry(p) for p in standin.pending],
            }

        @router.post("/queue")
        async def edit_queue(request: Request) -> dict[str, Any]:
            body = await request.json()
            if body.get("clear"):
                standin.pending.clear()
            for prompt_id in body.get("delete", []):
                standin.pending[:] = [p for p in standin.pending if p.prompt_id != prompt_id]
            return {}

        @router.post("/interrupt")
        async def interrupt(request: Request) -> dict[str, Any]:
            try:
                body = await request.json()
            except ValueError:
                body = {}
            running = standin.running
            if running and (not body.get("prompt_id") or body["prompt_id"] == running.prompt_id):
                standin.interrupted.add(running.prompt_id)
            return {}

        @router.get("/history/{prompt_id}")
        def history(prompt_id: str) -> dict[str, Any]:
            return {prompt_id: standin.history[prompt_id]} if prompt_id in standin.history else {}

        @router.get("/view")
        def view(filename: str, subfolder: str = "", type: str = "output") -> Any:
            base = {"output": standin.outputs, "input": standin.inputs}.get(type)
            path = (base / subfolder / filename) if base else None
            if path is None or not path.is_file():
                return JSONResponse({"error": "not found"}, status_code=404)
            return FileResponse(path)

        app.include_router(router)
        app.include_router(router, prefix="/api")

        async def ws(websocket: WebSocket) -> None:
            needed = standin.behaviour.required_header
            if needed and websocket.headers.get(needed[0]) != needed[1]:
                await websocket.close(code=4401)
                return
            client_id = websocket.query_params.get("clientId") or uuid.uuid4().hex
            await websocket.accept()
            standin.sockets[client_id] = websocket
            standin.connections += 1
            await websocket.send_json(
                {
                    "type": "status",
                    "data": {"status": {"exec_info": {"queue_remaining": len(standin.pending)}}, "sid": client_id},
                }
            )
            try:
                while True:
                    await websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                if standin.sockets.get(client_id) is websocket:
                    del standin.sockets[client_id]

        app.add_api_websocket_route("/ws", ws)
        app.add_api_websocket_route("/api/ws", ws)

        return app

    # -- execution ---------------------------------------------------------------------------------
    async def send(self, client_id: str, kind: str, data: dict[str, Any]) -> None:
        websocket = self.sockets.get(client_id)
        if websocket is None:
            return  # nobody listening: the message is lost, as on a real server
        try:
            await websocket.send_json({"type": kind, "data": data})
        except Exception:
            self.sockets.pop(client_id, None)

    async def drop_sockets(self) -> None:
        for client_id, websocket in list(self.sockets.items()):
            self.sockets.pop(client_id, None)
            with contextlib.suppress(Exception):
                await websocket.close(code=1012)

    async def worker(self) -> None:
        assert self.wake is not None
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                while self.behaviour.hold and not self.released.is_set():
                    await asyncio.sleep(0.02)
                if not self.pending:
                    break
                self.running = self.pending.pop(0)
                try:
                    await self.execute(self.running)
                except Exception as exc:  # a bug in the stand-in must show, not hang the test
                    print(f"stand-in crashed: {exc!r}")
                    raise
                finally:
                    self.running = None

    async def execute(self, prompt: Prompt) -> None:
        pid, client = prompt.prompt_id, prompt.client_id
        messages: list[Any] = []

        async def emit(kind: str, data: dict[str, Any], keep: bool = False) -> None:
            data = {**data, "prompt_id": pid, "timestamp": int(time.time() * 1000)}
            if keep:
                messages.append([kind, data])
            await self.send(client, kind, data)

        await emit("execution_start", {}, keep=True)
        await emit("execution_cached", {"nodes": []}, keep=True)
        order = topological(prompt.graph)
        values: dict[str, list[Any]] = {}
        outputs: dict[str, Any] = {}
        step = 0
        for node_id in order:
            node = prompt.graph[node_id]
            await emit("executing", {"node": node_id, "display_node": node_id})
            if node["class_type"] == self.behaviour.fail_class:
                data = {
                    "node_id": node_id,
                    "node_type": node["class_type"],
                    "executed": order[: order.index(node_id)],
                    "exception_message": "Allocation on device 0 would exceed allowed memory. (out of memory)",
                    "exception_type": "torch.OutOfMemoryError",
                    "traceback": ["Traceback (most recent call last):\n", "torch.OutOfMemoryError: ...\n"],
                    "current_inputs": {},
                    "current_outputs": {},
                }
                await emit("execution_error", data, keep=True)
                self._record(prompt, outputs, "error", messages)
                return
            inputs = {
                name: values[str(v[0])][v[1]] if isinstance(v, list) and len(v) == 2 and isinstance(v[1], int) else v
                for name, v in node["inputs"].items()
            }
            steps = sampler_steps(node["class_type"], inputs)
            for value in range(1, steps + 1):
                if pid in self.interrupted:
                    await emit(
                        "execution_interrupted",
                        {"node_id": node_id, "node_type": node["class_type"], "executed": []},
                        keep=True,
                    )
                    self._record(prompt, outputs, "error", messages)
                    return
                await asyncio.sleep(self.behaviour.step_seconds)
                step += 1
                if step == self.behaviour.forget_at_step:
                    self.pending.clear()
                    self.history.clear()
                    await self.drop_sockets()
                    return
                if step == self.behaviour.drop_socket_at_step:
                    await self.drop_sockets()
                await emit("progress", {"value": value, "max": steps, "node": node_id})
            if node["class_type"] == "VAEDecode" and self.behaviour.silent_seconds:
                await asyncio.sleep(self.behaviour.silent_seconds)
            values[node_id], ui = await asyncio.to_thread(self.evaluate, node["class_type"], inputs, prompt)
            if ui:
                outputs[node_id] = ui
                await emit("executed", {"node": node_id, "display_node": node_id, "output": ui})
        await emit("execution_success", {}, keep=True)
        self._record(prompt, outputs, "success", messages)
        await emit("executing", {"node": None})

    def _record(self, prompt: Prompt, outputs: dict[str, Any], status: str, messages: list[Any]) -> None:
        self.history[prompt.prompt_id] = {
            "prompt": [prompt.number, prompt.prompt_id, prompt.graph, {"client_id": prompt.client_id}, []],
            "outputs": outputs,
            "status": {"status_str": status, "completed": status == "success", "messages": messages},
            "meta": {},
        }

    def evaluate(self, kind: str, inputs: dict[str, Any], prompt: Prompt) -> tuple[list[Any], dict[str, Any] | None]:
        """What a node hands on, as shapes (sizes, frame counts, files), and what it saved."""
        if kind == "LoadImage":
            from PIL import Image

            path = self.inputs / inputs["image"]
            with Image.open(path) as image:
                return [{"w": image.width, "h": image.height, "frames": 1, "path": path}, None], None
        if kind == "LTXVPreprocess":
            return [inputs["image"]], None
        if kind == "LoadAudio":
            path = self.inputs / inputs["audio"]
            return [{"path": path, "seconds": sf.info(str(path)).duration}], None
        if kind == "LoadVideo":
            from cadenza.media.video import probe

            path = self.inputs / inputs["file"]
            info = probe(path, count_frames=True)
            image = {"w": info.width, "h": info.height, "frames": info.frames, "video": path}
            audio = {"path": path, "seconds": info.audio_duration_s} if info.has_audio else None
            return [{"image": image, "fps": info.fps, "audio": audio}], None
        if kind == "GetVideoComponents":
            video = inputs["video"]
            return [video["image"], video["audio"], video["fps"]], None
        if kind == "VAEEncode":
            return [dict(inputs["pixels"])], None
        if kind == "EmptyLTXVLatentVideo":
            return [{"w": inputs["width"], "h": inputs["height"], "frames": inputs["length"]}], None
        if kind == "LTXVImgToVideo":
            latent = {"w": inputs["width"], "h": inputs["height"], "frames": inputs["length"], "first": inputs["image"]}
            return [None, None, latent], None
        if kind == "LTXVAddGuide":
            end = "first" if inputs["frame_idx"] == 0 else "last"
            return [None, None, {**inputs["latent"], end: inputs["image"]}], None
        if kind == "LTXVCropGuides":
            return [None, None, inputs["latent"]], None
        if kind in ("SamplerCustom", "KSampler"):
            seed = inputs.get("noise_seed", inputs.get("seed", 0))
            latent = {**inputs["latent_image"], "seed": seed}
            return [latent, latent], None
        if kind == "LTXVScheduler":
            return [{"steps": inputs["steps"]}], None
        if kind == "SplitSigmasDenoise":
            steps = inputs["sigmas"]["steps"]
            low = max(1, round(steps * inputs["denoise"]))
            return [{"steps": steps - low}, {"steps": low}], None
        if kind == "VAEDecode":
            return [dict(inputs["samples"])], None
        if kind == "CreateVideo":
            return [{"image": inputs["images"], "fps": inputs["fps"], "audio": inputs.get("audio")}], None
        if kind == "SaveVideo":
            name = f"cadenza_{self.counter:05}_.mp4"
            write_video(self.outputs / name, inputs["video"], self.behaviour.video_codec)
            return [], {"images": [{"filename": name, "subfolder": "", "type": "output"}], "animated": [True]}
        if kind == "EmptyAceStep1.5LatentAudio":
            return [{"seconds": inputs["seconds"]}], None
        if kind == "VAEDecodeAudio":
            return [dict(inputs["samples"])], None
        if kind == "SaveAudio":
            name = f"cadenza_{self.counter:05}_.flac"
            audio = inputs["audio"]
            t = np.arange(int(AUDIO_RATE * audio["seconds"])) / AUDIO_RATE
            tone = 0.2 * np.sin(2 * np.pi * (220 + audio.get("seed", 0) % 200) * t)
            sf.write(self.outputs / name, np.stack([tone, tone], axis=1).astype(np.float32), AUDIO_RATE)
            return [], {"audio": [{"filename": name, "subfolder": "", "type": "output"}]}
        return [None] * 3, None  # loaders, text encoders, conditioning: nothing with a shape


def sampler_steps(kind: str, inputs: dict[str, Any]) -> int:
    if kind == "SamplerCustom":
        return int(inputs["sigmas"]["steps"])
    if kind == "KSampler":
        return int(inputs["steps"])
    return 0


def topological(graph: dict[str, Any]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for value in graph[node_id]["inputs"].values():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
                visit(str(value[0]))
        order.append(node_id)

    for node_id in sorted(graph, key=lambda n: (len(n), n)):
        visit(node_id)
    return order


class Running:
    """The stand-in served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, standin: StandIn, port: int | None = None) -> None:
        if port is None:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.standin = standin
        config = uvicorn.Config(standin.app(), host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
