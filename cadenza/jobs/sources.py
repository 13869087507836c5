"""Turning the ids a request names (job, artifact, upload) into files an engine can read.

The worker does this before a run, and the service at submission, so a bad id is refused at once.
Engines never see ids, paths from requests, or the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cadenza.config import Settings
from cadenza.engines.base import SourceAudio
from cadenza.errors import InputError, NotFound
from cadenza.jobs.models import Job
from cadenza.jobs.store import Store

SOURCE_FIELDS = ("source",)


def _job_files(settings: Settings, job: Job) -> dict[str, Path]:
    return {artifact.role: settings.home / artifact.path for artifact in job.artifacts}


def resolve(settings: Settings, store: Store, source_id: str) -> tuple[SourceAudio, Job | None]:
    """The audio behind an artifact, upload or job id, and the job that made it (if any)."""
    try:
        artifact = store.get_artifact(source_id)
    except NotFound:
        artifact = None
    if artifact is not None:
        job = store.get_job(artifact.job_id)
        if artifact.kind not in ("audio", "stem"):
            raise InputError(f"artifact {source_id} is {artifact.kind}, not audio")
        return SourceAudio(
            settings.home / artifact.path, Path(artifact.path).stem, job.recipe, _job_files(settings, job)
        ), job
    try:
        upload = store.get_upload(source_id)
    except NotFound:
        upload = None
    if upload is not None:
        if upload.kind != "audio":
            raise InputError(f"upload {source_id} is an {upload.kind}, not audio")
        return SourceAudio(settings.home / upload.path, Path(upload.filename).stem or "upload"), None
    try:
        job = store.get_job(source_id)
    except NotFound:
        raise InputError(f"source {source_id!r} is not a job, artifact or upload id") from None
    if job.status != "succeeded":
        raise InputError(f"job {source_id} has no audio to use: it is {job.status}")
    mix = next((a for a in job.artifacts if a.role == "mix"), None)
    if mix is None:
        raise InputError(f"job {source_id} ({job.task}) made no mix to use as a source")
    return SourceAudio(settings.home / mix.path, Path(mix.path).stem, job.recipe, _job_files(settings, job)), job


def resolve_inputs(settings: Settings, store: Store, request: dict[str, Any]) -> dict[str, SourceAudio]:
    return {name: resolve(settings, store, request[name])[0] for name in SOURCE_FIELDS if request.get(name)}
