"""ACE-Step 1.5 through its own API server, which Cadenza is a client of.

ACE-Step's package pins transformers < 4.58 and needs torchaudio, so it cannot share Cadenza's
environment: run its server (`python -m acestep.api_server`, or `acestep-api`) on the GPU box and point
Cadenza at it with CADENZA_ACESTEP_URL (and CADENZA_ACESTEP_KEY when it was started with an API key).

Tasks map onto its task types: generate -> text2music, cover -> cover (strength -> audio_cover_strength),
edit -> repaint of the range, extend -> a repaint window past the source's end (how ACE-Step extends:
the source is padded and the new span generated in its context). Sources are uploaded with the request.
The job follows the task with POST /query_result until it succeeds or fails; the audio files it returns
and its metadata (seeds, BPM, key, models used) become this job's artifacts and recipe.

The server has no cancel endpoint: a cancelled job stops following its task, which the server finishes
and keeps to itself.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.errors import Cancelled, EngineError, EngineUnavailable
from cadenza.media.io import mime_for
from cadenza.tasks import CoverRequest, EditRequest, ExtendRequest, GenerateRequest, TaskRequest, TimeSignature

TURBO_STEPS, BASE_STEPS = 8, 32  # non-turbo (base, SFT) models need ~27+ steps; 32 is their documented floor
DEFAULT_SERVER_MODEL = "acestep-v15-turbo"  # what the server loads unless told otherwise (ACESTEP_CONFIG_PATH)
STATUS_RUNNING, STATUS_SUCCEEDED, STATUS_FAILED = 0, 1, 2
TASK_TYPES = {"generate": "text2music", "cover": "cover", "edit": "repaint", "extend": "repaint"}


class AceStepAdvanced(BaseModel):
    """ACE-Step's own knobs, passed through to its server (the UI draws them from this schema)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str | None = Field(None, description="The server's DiT model (its /v1/models); default: the server's")
    inference_steps: int | None = Field(
        None, ge=1, le=200, description=f"Diffusion steps; default {TURBO_STEPS} for turbo models, {BASE_STEPS} else"
    )
    guidance_scale: float = Field(7.0, ge=1.0, le=15.0, description="Prompt guidance (base models)")
    infer_method: Literal["ode", "sde"] = Field("ode", description="ode: Euler, deterministic; sde: stochastic")
    shift: float = Field(3.0, ge=1.0, le=5.0, description="Timestep shift")
    cfg_interval_start: float = Field(0.0, ge=0.0, le=1.0, description="Where guidance starts (fraction of steps)")
    cfg_interval_end: float = Field(1.0, ge=0.0, le=1.0, description="Where guidance ends (fraction of steps)")
    use_adg: bool = Field(False, description="Adaptive dual guidance (base models)")
    thinking: bool = Field(True, description="Let the 5 Hz LM plan the song's audio codes (text2music)")
    use_cot_caption: bool = Field(True, description="Let the LM rewrite the caption")
    use_cot_language: bool = Field(True, description="Let the LM detect the vocal language")
    lm_temperature: float = Field(0.85, ge=0.0, le=2.0, description="LM sampling temperature")
    lm_cfg_scale: float = Field(2.5, ge=0.0, le=10.0, description="LM guidance (above 1 enables it)")
    lm_top_k: int = Field(0, ge=0, le=1000, description="LM top-k (0: off)")
    lm_top_p: float = Field(0.9, ge=0.0, le=1.0, description="LM nucleus sampling (1: off)")
    lm_negative_prompt: str = Field("NO USER INPUT", max_length=500, description="What the LM steers away from")
    vocal_language: str = Field("en", pattern=r"^([a-z]{2,3}|unknown)$", description="Language of the lyrics")
    batch_seeds: list[int] = Field(
        default_factory=list, max_length=8, description="One take per seed (up to 8); default one take, the job's seed"
    )
    timeout_seconds: float = Field(1800.0, ge=1.0, le=86400.0, description="Give up on the server after this long")
    poll_seconds: float = Field(1.0, ge=0.05, le=30.0, description="How often to ask the server for progress")

    @model_validator(mode="after")
    def _interval_in_order(self) -> AceStepAdvanced:
        if self.cfg_interval_start > self.cfg_interval_end:
            raise ValueError(
                f"cfg_interval_start ({self.cfg_interval_start:g}) must not be after "
                f"cfg_interval_end ({self.cfg_interval_end:g})"
            )
        return self


def tuned_steps(model: str) -> int:
    """Turbo models are distilled for 8 steps; base and SFT models fall apart below ~27."""
    return TURBO_STEPS if "turbo" in model.lower() else BASE_STEPS


class AceStepClient:
    """The documented HTTP contract of ACE-Step 1.5's API server (docs/en/API.md in its repository)."""

    def __init__(self, url: str, key: str = "", timeout: float = 30.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; returns the wrapper's `data`, or raises naming what the server said."""
        import httpx

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"cannot reach the ACE-Step server at {self.url}: {exc}") from None
        if response.status_code == 401:
            raise EngineUnavailable(
                f"the ACE-Step server at {self.url} refused the key: set CADENZA_ACESTEP_KEY to its ACESTEP_API_KEY"
            )
        if response.status_code == 429:
            raise EngineError(f"the ACE-Step server at {self.url} is busy (its queue is full); try again later")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            detail = (body.get("detail") or body.get("error")) if isinstance(body, dict) else response.text[:300]
            raise EngineError(f"the ACE-Step server answered HTTP {response.status_code} to {path}: {detail}")
        if body.get("error") or body.get("code", 200) != 200:
            raise EngineError(f"the ACE-Step server refused {path}: {body.get('error')}")
        return body.get("data")

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health", timeout=2.0) or {}

    def default_model(self) -> str:
        listing = self._call("GET", "/v1/models") or {}
        return listing.get("default_model") or DEFAULT_SERVER_MODEL

    def submit(self, fields: dict[str, Any], source: Path | None) -> str:
        if source is None:
            data = self._call("POST", "/release_task", json=fields)
        else:  # multipart: the fields as form fields, the source as the src_audio file
            form = {name: _form_value(value) for name, value in fields.items() if value is not None}
            with source.open("rb") as audio:
                data = self._call("POST", "/release_task", data=form, files={"src_audio": (source.name, audio)})
        task_id = (data or {}).get("task_id")
        if not task_id:
            raise EngineError(f"the ACE-Step server accepted the task but returned no task_id: {data}")
        return str(task_id)

    def query(self, task_id: str) -> tuple[int, list[dict[str, Any]], str]:
        """(status, result items, progress text) of one task."""
        data = self._call("POST", "/query_result", json={"task_id_list": [task_id]}) or []
        entry = next((item for item in data if str(item.get("task_id")) == task_id), data[0] if data else {})
        raw = entry.get("result") or "[]"
        try:
            items = json.loads(raw) if isinstance(raw, str) else list(raw)
        except ValueError:
            items = []
        return (
            int(entry.get("status", STATUS_RUNNING)),
            [i for i in items if isinstance(i, dict)],
            str(entry.get("progress_text") or ""),
        )

    def download(self, file: str, target: Path) -> Path:
        import httpx

        try:
            with self.http.stream("GET", file) as response:
                if response.status_code >= 400:
                    raise EngineError(f"the ACE-Step server answered HTTP {response.status_code} for {file}")
                with target.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"lost the ACE-Step server at {self.url} while downloading: {exc}") from None
        return target


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


class AceStepEngine:
    name = "acestep"
    # ACE-Step's server loads a LoRA from its own disk into its one model for every request (/v1/lora/load),
    # so a job cannot apply one of Cadenza's adapters without changing everyone else's results.
    lora_note = "no adapters: ACE-Step's server loads LoRAs from its own disk for all requests (/v1/lora/load)"
    version = __version__
    tasks = ("generate", "cover", "edit", "extend")

    @property
    def url(self) -> str:
        return os.environ.get("CADENZA_ACESTEP_URL", "").rstrip("/")

    def client(self) -> AceStepClient:
        return AceStepClient(self.url, os.environ.get("CADENZA_ACESTEP_KEY", ""))

    def available(self) -> tuple[bool, str]:
        if not self.url:
            return False, (
                "set CADENZA_ACESTEP_URL to an ACE-Step 1.5 API server (python -m acestep.api_server on the GPU "
                "box, default port 8001) and CADENZA_ACESTEP_KEY if it has an API key"
            )
        client = self.client()
        try:
            health = client.health()
        except (EngineUnavailable, EngineError) as exc:
            return False, exc.message
        finally:
            client.close()
        return True, f"{health.get('service', 'ACE-Step API')} at {self.url}"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return AceStepAdvanced

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 60.0

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Submit, follow the task to its end, download what it made."""
        advanced = AceStepAdvanced.model_validate(request.advanced)
        client = self.client()
        try:
            ctx.progress(0.01, "connect")
            model = advanced.model or client.default_model()
            advanced = advanced.model_copy(
                update={"model": model, "inference_steps": advanced.inference_steps or tuned_steps(model)}
            )
            fields = self._fields(request, ctx, advanced)
            source = None if isinstance(request, GenerateRequest) else ctx.source().path
            task_id = client.submit(fields, source)
            ctx.progress(0.03, "queued")
            items = self._follow(client, task_id, advanced, ctx)
            artifacts = self._download(client, items, request, ctx)
        finally:
            client.close()
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": request.task,
            "seed": ctx.seed,
            "server": self.url,
            "model": {"id": model, "dit_model": items[0].get("dit_model"), "lm_model": items[0].get("lm_model")},
            "acestep": {"task_id": task_id, "request": fields, "seeds": items[0].get("seed_value")},
            "request": request.model_dump(mode="json") | {"seed": ctx.seed, "advanced": advanced.model_dump()},
        }
        return EngineOutput(artifacts, recipe)

    def _fields(self, request: TaskRequest, ctx: RunContext, advanced: AceStepAdvanced) -> dict[str, Any]:
        """The /release_task fields for this request: its task type, its inputs, every knob resolved."""
        seeds = advanced.batch_seeds or [ctx.seed]
        knobs = advanced.model_dump(exclude={"batch_seeds", "timeout_seconds", "poll_seconds"})
        fields: dict[str, Any] = {
            "task_type": TASK_TYPES[request.task],
            "prompt": getattr(request, "prompt", "") or "",
            "audio_format": getattr(request, "format", "wav"),
            "use_random_seed": False,
            "seed": ",".join(str(seed) for seed in seeds),
            "batch_size": len(seeds),
            **knobs,
        }
        if isinstance(request, GenerateRequest | CoverRequest):  # ACE-Step's BPM is an integer
            fields |= {"bpm": round(request.bpm) if request.bpm else None, "key_scale": request.key or ""}
        if isinstance(request, GenerateRequest):
            fields |= {
                "lyrics": request.lyrics or "[Instrumental]",
                "audio_duration": request.duration,
                "time_signature": str(TimeSignature.parse(request.time_signature).numerator)
                if request.time_signature
                else "",
            }
        elif isinstance(request, CoverRequest):
            fields["audio_cover_strength"] = request.strength
        elif isinstance(request, EditRequest):
            fields |= {"repainting_start": request.start, "repainting_end": request.end}
        elif isinstance(request, ExtendRequest):
            import soundfile as sf

            length = sf.info(str(ctx.source().path)).duration
            fields |= {
                "repainting_start": length,
                "repainting_end": length + request.seconds,
                "audio_duration": length + request.seconds,
            }
        return {name: value for name, value in fields.items() if value is not None}

    def _follow(
        self, client: AceStepClient, task_id: str, advanced: AceStepAdvanced, ctx: RunContext
    ) -> list[dict[str, Any]]:
        """Poll until the task ends: its progress becomes ours; a failure, the timeout or a cancel ends it."""
        deadline = time.monotonic() + advanced.timeout_seconds
        stage = "queued"
        while True:
            status, items, progress_text = client.query(task_id)
            if status == STATUS_SUCCEEDED:
                made = [item for item in items if item.get("file")]
                if not made:
                    raise EngineError(f"ACE-Step task {task_id} succeeded without an audio file: {items}")
                return made
            if status == STATUS_FAILED:
                reason = next((i.get("error") for i in items if i.get("error")), None) or progress_text
                raise EngineError(f"ACE-Step task {task_id} failed: {reason or 'no reason given'}")
            if items:
                stage = str(items[0].get("stage") or stage)
                ctx.progress(0.05 + 0.85 * float(items[0].get("progress") or 0.0), stage)
            if time.monotonic() > deadline:
                raise EngineError(
                    f"ACE-Step task {task_id} did not finish within {advanced.timeout_seconds:g} s (last stage: "
                    f"{stage}); raise advanced.timeout_seconds for long songs or a busy server"
                )
            if ctx.cancel_event.wait(advanced.poll_seconds):
                raise Cancelled(f"the job was cancelled; ACE-Step task {task_id} was left to finish on the server")

    def _download(
        self, client: AceStepClient, items: list[dict[str, Any]], request: TaskRequest, ctx: RunContext
    ) -> list[Artifact]:
        import soundfile as sf

        ctx.progress(0.92, "download")
        extension = getattr(request, "format", "wav")
        artifacts = []
        for number, item in enumerate(items, start=1):
            path = client.download(item["file"], ctx.scratch / f"acestep_{number}.{extension}")
            try:
                info = sf.info(str(path))
            except RuntimeError as exc:
                raise EngineError(f"ACE-Step returned a file that is not audio ({item['file']}): {exc}") from None
            role = "mix" if number == 1 else f"take:{number}"
            artifacts.append(Artifact(path, "audio", role, mime_for(path), info.duration, info.samplerate))
        metadata = ctx.scratch / "acestep.json"
        metadata.write_text(json.dumps(items, indent=2))
        artifacts.append(Artifact(metadata, "metadata", "metadata", "application/json"))
        return artifacts
