"""/api/v1/uploads: files a task can reference by id, checked before they are accepted."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, UploadFile
from starlette.concurrency import run_in_threadpool

from cadenza.api.deps import ServiceDep, SettingsDep
from cadenza.errors import CadenzaError

router = APIRouter(tags=["uploads"])
CHUNK = 1 << 20


class TooLarge(CadenzaError):
    category = "too_large"


@router.post("/uploads", status_code=201)
async def upload(file: UploadFile, service: ServiceDep, settings: SettingsDep) -> dict[str, Any]:
    """Upload audio or an image (at most CADENZA_MAX_UPLOAD_MB); returns the id task inputs use."""
    limit = int(settings.max_upload_mb * 1024 * 1024)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=settings.uploads_dir, prefix=".incoming-")
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the upload exceeds {settings.max_upload_mb:g} MB (CADENZA_MAX_UPLOAD_MB)")
                out.write(chunk)
        name = os.path.basename(file.filename or "upload")[:200] or "upload"
        record = await run_in_threadpool(service.add_upload, Path(temporary), name)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
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
