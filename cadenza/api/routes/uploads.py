"""/api/v1/uploads: files a task can reference by id, checked before they are accepted."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from cadenza.api.deps import ServiceDep, SettingsDep
from cadenza.errors import CadenzaError

router = APIRouter(tags=["uploads"])
CHUNK = 1 << 20


class TooLarge(CadenzaError):
    category = "too_large"


@asynccontextmanager
async def received(file: UploadFile, folder: Path, prefix: str, limit_mb: float, what: str) -> AsyncIterator[Path]:
    """The uploaded body in a temporary file in `folder`, refused past `limit_mb` while it streams in;
    the file is gone afterwards unless the caller moved it."""
    limit = int(limit_mb * 1024 * 1024)
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=prefix)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the {what} exceeds {limit_mb:g} MB (CADENZA_MAX_UPLOAD_MB)")
                out.write(chunk)
        yield Path(temporary)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


@router.post("/uploads", status_code=201)
async def upload(file: UploadFile, service: ServiceDep, settings: SettingsDep, response: Response) -> dict[str, Any]:
    """Upload audio or an image (at most CADENZA_MAX_UPLOAD_MB); returns the id task inputs use.

    The same bytes uploaded again return the upload that holds them, with 200 instead of 201."""
    async with received(file, settings.uploads_dir, ".incoming-", settings.max_upload_mb, "upload") as temporary:
        name = os.path.basename(file.filename or "upload")[:200] or "upload"
        record, created = await run_in_threadpool(service.add_upload, temporary, name)
    if not created:
        response.status_code = 200
    return upload_public(record)


@router.get("/uploads/{upload_id}")
def get_upload(upload_id: str, service: ServiceDep) -> dict[str, Any]:
    return upload_public(service.store.get_upload(upload_id))


@router.delete("/uploads/{upload_id}", status_code=204)
def delete_upload(upload_id: str, service: ServiceDep) -> Response:
    """Delete an upload and its file (refused while a queued or running job uses it)."""
    service.delete_upload(upload_id)
    return Response(status_code=204)


def upload_public(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "filename": record.filename,
        "kind": record.kind,
        "mime": record.mime,
        "bytes": record.bytes,
        "sha256": record.sha256,
        "duration_s": record.duration_s,
        "sample_rate": record.sample_rate,
    }
