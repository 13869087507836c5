"""Schema families of a job: JobCreate travels in, JobPublic and ArtifactPublic travel out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cadenza.jobs.models import Artifact, Job


class JobCreate(BaseModel):
    """In: what a client submits to POST /api/v1/jobs (documented per task in the OpenAPI document)."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(..., max_length=32, description="One of the tasks in GET /api/v1/engines")
    engine: str | None = Field(None, description="Default: the task's default engine")
    input: dict[str, Any] = Field(default_factory=dict, description="The task's request fields, plus `advanced`")
    parent_id: str | None = Field(None, description="The job this one iterates on")


class ArtifactPublic(BaseModel):
    """Out: one file of a job, reachable only through its url."""

    id: str
    role: str
    kind: str
    mime: str
    bytes: int
    sha256: str
    duration_s: float | None
    sample_rate: int | None
    filename: str
    url: str


class JobError(BaseModel):
    message: str
    category: str


class JobPublic(BaseModel):
    """Out: a job as clients see it."""

    id: str
    task: str
    engine: str
    status: str
    progress: float
    stage: str
    error: JobError | None
    attempts: int
    budget_s: float | None = Field(None, description="Time budget of the run (GPU/model engines), in seconds")
    retries: int = Field(0, description="Automatic retries after a timeout or out-of-memory (at most 1)")
    retry_reason: str | None = Field(None, description="Why the job was retried")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    parent_id: str | None
    input: dict[str, Any]
    recipe: dict[str, Any] | None
    artifacts: list[ArtifactPublic]


class JobList(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC, and the API says so."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def artifact_public(artifact: Artifact, prefix: str = "/api/v1") -> ArtifactPublic:
    return ArtifactPublic(
        id=artifact.id,
        role=artifact.role,
        kind=artifact.kind,
        mime=artifact.mime,
        bytes=artifact.bytes,
        sha256=artifact.sha256,
        duration_s=artifact.duration_s,
        sample_rate=artifact.sample_rate,
        filename=artifact.path.rsplit("/", 1)[-1],
        url=f"{prefix}/files/{artifact.id}",
    )


def job_public(job: Job, prefix: str = "/api/v1") -> JobPublic:
    error = JobError(message=job.error_message or "", category=job.error_category or "") if job.error_category else None
    return JobPublic(
        id=job.id,
        task=job.task,
        engine=job.engine,
        status=job.status,
        progress=job.progress,
        stage=job.stage,
        error=error,
        attempts=job.attempts,
        budget_s=job.budget_s,
        retries=job.retries or 0,
        retry_reason=job.retry_reason,
        created_at=aware(job.created_at),
        started_at=aware(job.started_at),
        finished_at=aware(job.finished_at),
        parent_id=job.parent_id,
        input=job.request,
        recipe=job.recipe,
        artifacts=[artifact_public(a, prefix) for a in job.artifacts],
    )
