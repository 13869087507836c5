"""A stand-in for ACE-Step 1.5's API server, following its documented contract (docs/en/API.md of
ace-step/ACE-Step-1.5): the {data, code, error, timestamp, extra} wrapper, POST /release_task (JSON or
multipart with a src_audio file), POST /query_result with integer statuses and a JSON-string result
carrying progress and stage, GET /v1/audio?path=..., GET /v1/models, GET /health, Bearer keys.

A remote GPU service is the one thing these tests may not run for real (ACE-Step cannot be installed
beside Cadenza and needs a GPU), so it is stood in for here; Cadenza's own engine, job service and
worker are the real ones. The audio it returns is real WAV of the length the request implies.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

RATE = 48000
MODELS = ["acestep-v15-turbo", "acestep-v15-base"]


@dataclass
class Behaviour:
    key: str = ""  # ACESTEP_API_KEY; empty: no auth
    polls_to_finish: int = 3
    failure: str | None = None  # fail with this error after the polls
    never_finish: bool = False


@dataclass
class Task:
    fields: dict[str, Any]
    source: Path | None
    polls: int = 0


@dataclass
class StandIn:
    behaviour: Behaviour = field(default_factory=Behaviour)
    tasks: dict[str, Task] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="acestep-standin-")))

    def app(self) -> FastAPI:
        app = FastAPI()

        def wrap(data: Any, code: int = 200, error: str | None = None) -> dict[str, Any]:
            return {"data": data, "code": code, "error": error, "timestamp": int(time.time() * 1000), "extra": None}

        def authorised(request: Request) -> bool:
            self.headers.append(dict(request.headers))
            return not self.behaviour.key or request.headers.get("authorization") == f"Bearer {self.behaviour.key}"

        @app.get("/health")
        def health() -> dict[str, Any]:
            return wrap({"status": "ok", "service": "ACE-Step API", "version": "1.0"})

        @app.get("/v1/models")
        def models() -> dict[str, Any]:
            listing = [{"name": name, "is_default": name == MODELS[0]} for name in MODELS]
            return wrap({"models": listing, "default_model": MODELS[0]})

        @app.post("/release_task")
        async def release_task(request: Request) -> Any:
            if not authorised(request):
                return JSONResponse({"detail": "Invalid or missing API key"}, status_code=401)
            source = None
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                form = await request.form()
                fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
                upload = form.get("src_audio")
                if upload is not None and not isinstance(upload, str):
                    source = self.folder / f"upload-{uuid.uuid4().hex}.wav"
                    source.write_bytes(await upload.read())
            else:
                fields = await request.json()
            task_id = str(uuid.uuid4())
            self.tasks[task_id] = Task(fields, source)
            return wrap({"task_id": task_id, "status": "queued", "queue_position": 1})

        @app.post("/query_result")
        async def query_result(request: Request) -> Any:
            if not authorised(request):
                return JSONResponse({"detail": "Invalid or missing API key"}, status_code=401)
            ids = (await request.json())["task_id_list"]
            return wrap([self._state(task_id) for task_id in ids])

        @app.get("/v1/audio")
        def audio(path: str) -> Any:
            return FileResponse(path)

        return app

    def _state(self, task_id: str) -> dict[str, Any]:
        import json

        task = self.tasks.get(task_id)
        if task is None:
            return {"task_id": task_id, "status": 0, "result": "[]"}
        task.polls += 1
        now = int(time.time())
        if self.behaviour.never_finish or task.polls < self.behaviour.polls_to_finish:
            share = min(0.95, task.polls / (self.behaviour.polls_to_finish + 1))
            running = [{"file": "", "status": 0, "create_time": now, "progress": share, "stage": "diffusion"}]
            return {"task_id": task_id, "status": 0, "result": json.dumps(running), "progress_text": "working"}
        if self.behaviour.failure:
            failed = [{"file": "", "status": 2, "create_time": now, "stage": "failed", "error": self.behaviour.failure}]
            return {"task_id": task_id, "status": 2, "result": json.dumps(failed)}
        seeds = str(task.fields.get("seed", "-1")).split(",")
        files = [self._render(task, int(seed), number) for number, seed in enumerate(seeds)]
        metas = {"bpm": task.fields.get("bpm") or 120, "duration": task.fields.get("audio_duration"), "genres": ""}
        done = [
            {
                "file": "/v1/audio?path=" + urllib.parse.quote(str(path), safe=""),
                "wave": "",
                "status": 1,
                "create_time": now,
                "prompt": task.fields.get("prompt", ""),
                "lyrics": task.fields.get("lyrics", ""),
                "metas": metas | {"keyscale": task.fields.get("key_scale", ""), "timesignature": "4"},
                "generation_info": "stand-in",
                "seed_value": ",".join(seeds),
                "lm_model": "acestep-5Hz-lm-0.6B",
                "dit_model": task.fields.get("model") or MODELS[0],
                "progress": 1.0,
                "stage": "succeeded",
            }
            for path in files
        ]
        return {"task_id": task_id, "status": 1, "result": json.dumps(done)}

    def _render(self, task: Task, seed: int, number: int) -> Path:
        """A tone per seed, as long as the task implies (the source's length for cover and repaint)."""
        fields = task.fields
        seconds = float(fields.get("audio_duration") or 0.0)
        if not seconds and task.source is not None:
            seconds = sf.info(str(task.source)).duration
        t = np.arange(int(RATE * (seconds or 30.0))) / RATE
        tone = 0.2 * np.sin(2 * np.pi * (220.0 + seed % 200) * t)
        path = self.folder / f"{uuid.uuid4().hex}-{number}.{fields.get('audio_format', 'mp3')}"
        sf.write(path, np.stack([tone, tone], axis=1).astype(np.float32), RATE)
        return path


class Running:
    """The stand-in served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, standin: StandIn) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(standin.app(), host="127.0.0.1", port=port, log_level="warning"))
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
