"""Turning the ids a request names (job, artifact, upload) into files an engine can read.

The worker does this before a run, and the service at submission, so a bad id is refused at once.
Engines never see ids, paths from requests, or the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cadenza.config import Settings
from cadenza.engines.base import SourceFile
from cadenza.errors import CadenzaError, InputError, NotFound, UnknownReference
from cadenza.jobs.models import Job
from cadenza.jobs.store import Store
from cadenza.storage import storage_for

# request field -> the kind of file it takes
SOURCE_KINDS: dict[str, str] = {
    "source": "audio",
    "audio": "audio",
    "image": "image",
    "first_frame": "image",
    "last_frame": "image",
    "video": "video",
    "control": "video",  # the control video an IC-LoRA follows (style with engine ltx)
}
SOURCE_FIELDS = tuple(SOURCE_KINDS)
# artifact kinds that can stand for each kind of input
_ARTIFACT_KINDS = {"audio": ("audio", "stem"), "image": ("image",), "video": ("video",)}
# a job id stands for its main output of that kind: the first of these roles it has
_MAIN_ROLES = {"audio": ("mix", "audio"), "image": ("poster", "image"), "video": ("video",)}


def _fetch(settings: Settings, key: str) -> Path:
    """The local file behind a stored key: in the data dir, or fetched from shared storage."""
    local = settings.home / key
    return local if local.is_file() else storage_for(settings).fetch(key)


def _job_files(settings: Settings, job: Job) -> dict[str, Path]:
    return {artifact.role: _fetch(settings, artifact.path) for artifact in job.artifacts}


def resolve(
    settings: Settings, store: Store, source_id: str, kind: str = "audio", field: str = "source"
) -> tuple[SourceFile, Job | None]:
    """The file of `kind` behind an artifact, upload or job id (the request's `field`), and the job that
    made it (if any)."""
    article = "an" if kind[0] in "aeiou" else "a"
    try:
        artifact = store.get_artifact(source_id)
    except NotFound:
        artifact = None
    if artifact is not None:
        job = store.get_job(artifact.job_id)
        if artifact.kind not in _ARTIFACT_KINDS[kind]:
            raise InputError(f"artifact {source_id} is {artifact.kind}, not {kind}")
        return SourceFile(
            _fetch(settings, artifact.path), Path(artifact.path).stem, job.recipe, _job_files(settings, job)
        ), job
    try:
        upload = store.get_upload(source_id)
    except NotFound:
        upload = None
    if upload is not None:
        if upload.kind != kind:
            raise InputError(
                f"upload {source_id} is {'an' if upload.kind[0] in 'aeiou' else 'a'} {upload.kind}, not {kind}"
            )
        return SourceFile(_fetch(settings, upload.path), Path(upload.filename).stem or "upload"), None
    try:
        job = store.get_job(source_id)
    except NotFound:
        raise UnknownReference(f"{field} {source_id!r} is not a job, artifact or upload id") from None
    if job.status != "succeeded":
        raise InputError(f"job {source_id} has no {kind} to use: it is {job.status}")
    main = next((a for role in _MAIN_ROLES[kind] for a in job.artifacts if a.role == role), None)
    if main is None:
        raise InputError(f"job {source_id} ({job.task}) made no {kind} to use as {article} {kind} input")
    return SourceFile(_fetch(settings, main.path), Path(main.path).stem, job.recipe, _job_files(settings, job)), job


def resolve_inputs(settings: Settings, store: Store, request: dict[str, Any]) -> dict[str, SourceFile]:
    return {
        name: resolve(settings, store, request[name], kind, name)[0]
        for name, kind in SOURCE_KINDS.items()
        if request.get(name)
    }


def duration_of(path: Path) -> float | None:
    """A source file's length in seconds from its header (audio) or streams (video); None if unreadable."""
    try:
        if path.suffix.lower() in (".mp4", ".webm", ".mov", ".mkv"):
            from cadenza.media.video import probe

            return probe(path).duration_s
        from cadenza.media.io import audio_info

        return audio_info(path)[0]
    except (CadenzaError, RuntimeError, OSError):
        return None
