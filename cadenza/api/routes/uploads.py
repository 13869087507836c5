"""/api/v1/uploads: files a task can reference by id, checked before they are accepted."""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any

from fastapi import APIRouter, UploadFile
from starlette.concurrency import run_in_threadpool

from cadenza.api.deps import SettingsDep, StoreDep
from cadenza.errors import CadenzaError
from cadenza.jobs.models import Upload, utcnow
from cadenza.jobs.store import new_id
from cadenza.media.uploads import check_file

router = APIRouter(tags=["uploads"])
CHUNK = 1 << 20


class TooLarge(CadenzaError):
    category = "too_large"


@router.post("/uploads", status_code=201)
async def upload(file: UploadFile, store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    """Upload audio or an image (at most CADENZA_MAX_UPLOAD_MB); returns the id task inputs use."""
    limit = int(settings.max_upload_mb * 1024 * 1024)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=settings.uploads_dir, prefix=".incoming-")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the upload exceeds {settings.max_upload_mb:g} MB (CADENZA_MAX_UPLOAD_MB)")
                digest.update(chunk)
                out.write(chunk)
        name = os.path.basename(file.filename or "upload")[:200]
        checked = await run_in_threadpool(check_file, temporary, name)
        upload_id = new_id()
        final = settings.uploads_dir / f"{upload_id}.{checked.extension}"
        os.replace(temporary, final)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    record = Upload(
        id=upload_id,
        filename=name,
        kind=checked.kind,
        path=str(final.relative_to(settings.home)),
        mime=checked.mime,
        bytes=size,
        sha256=digest.hexdigest(),
        duration_s=checked.duration_s,
        sample_rate=checked.sample_rate,
        created_at=utcnow(),
    )
    store.add_upload(record)
    return {
        "id": upload_id,
        "filename": name,
        "kind": checked.kind,
        "mime": checked.mime,
        "bytes": size,
        "sha256": record.sha256,
        "duration_s": checked.duration_s,
        "sample_rate": checked.sample_rate,
    }
