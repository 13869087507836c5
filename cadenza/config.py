"""Settings from the environment (CADENZA_*), read once at the edges and passed down explicitly."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENV_PREFIX = "CADENZA_"
Names = list[str]  # comma-separated in the environment


def _default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("cadenza", appauthor=False))


def _environment(names: list[str]) -> dict[str, str]:
    """CADENZA_<FIELD> variables (any case) for these fields."""
    wanted = {ENV_PREFIX + name.upper(): name for name in names}
    return {wanted[key.upper()]: value for key, value in os.environ.items() if key.upper() in wanted}


class Settings(BaseModel):
    """Every field reads CADENZA_<FIELD> from the environment; keyword arguments win.

    A plain pydantic model with its own environment reader: pydantic-settings did the same for ~50 ms of
    every start."""

    model_config = ConfigDict(frozen=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**(_environment(list(type(self).model_fields)) | values))

    home: Path = Field(default_factory=_default_home, description="Data dir: database, queue, artifacts")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in the data dir")
    queue_url: str | None = Field(
        None, description="redis://... to scale out; default the job table itself, read by in-process consumers"
    )
    api_token: str | None = Field(None, description="Bearer token every /api/v1 route then requires")
    models_dir: Path | None = Field(None, description="Where model weights live, one folder per model id")
    device: str | None = Field(None, description="cuda, mps or cpu; default the best available")
    model_memory_mb: float | None = Field(
        None, gt=0, description="Memory budget for loaded models per worker; default 80% of what is free"
    )
    comfyui_url: str | None = Field(None, description="A ComfyUI server (http://host:8188) for the comfyui engine")
    comfyui_header: str | None = Field(
        None, description="An extra header for every ComfyUI request, 'Name: value' (a proxy's or a token's)"
    )
    max_upload_mb: float = Field(200.0, gt=0)
    upload_quota_mb: float = Field(2048.0, gt=0, description="Disk all uploads together may use")
    upload_ttl_hours: float = Field(
        168.0, gt=0, description="An upload no queued or running job uses is deleted this long after its last use"
    )
    allowed_hosts: Names = Field(
        default_factory=list, description="Host names the server answers to besides loopback and its bind address"
    )
    cors_origins: Names = Field(
        default_factory=list, description="Web origins (https://app.example) allowed to call the API from a browser"
    )
    max_event_streams: int = Field(128, gt=0, description="Open job event streams, all clients together")
    max_event_streams_per_client: int = Field(32, gt=0, description="Open job event streams of one client address")
    max_video_seconds: float = Field(600.0, gt=0, description="Longest video upload accepted")
    max_video_side: int = Field(3840, gt=0, description="Largest width or height of a video upload accepted")
    max_queue_depth: int = Field(200, gt=0)
    max_attempts: int = Field(2, ge=1, description="Runs of a job before a dead worker's job is failed")
    storage_url: str | None = Field(
        None, description="Where artifacts live: s3://bucket/prefix, or a directory; default the data dir"
    )
    s3_endpoint_url: str | None = Field(None, description="S3 API endpoint of MinIO, Ceph ...; default AWS")
    storage_presign: bool = Field(False, description="Redirect downloads to presigned S3 URLs")
    stale_after_seconds: float = Field(10.0, gt=0, description="A running job without heartbeat this long is lost")

    @field_validator("allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @cached_property
    def database(self) -> str:
        from cadenza.jobs.db import normalise_url

        return normalise_url(self.database_url) if self.database_url else f"sqlite:///{self.home / 'cadenza.db'}"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def workflows_dir(self) -> Path:
        return self.home / "workflows"

    @property
    def scratch_dir(self) -> Path:
        return self.home / "scratch"


def load_settings(**overrides: object) -> Settings:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings
