"""/api/v1/files/{artifact_id}: artifacts by id only, with HTTP range support, from any storage."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from cadenza.api.contract import FILE_RESPONSE
from cadenza.api.deps import SettingsDep, StoreDep
from cadenza.errors import NotFound
from cadenza.storage import storage_for

router = APIRouter(tags=["files"])
CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@router.get("/files/{artifact_id}", response_class=FileResponse, responses=FILE_RESPONSE)
def download(
    artifact_id: str, request: Request, store: StoreDep, settings: SettingsDep, download: bool = False
) -> Response:
    """Stream an artifact (`Range` requests let players seek); `?download=1` names the file. With S3
    storage and CADENZA_STORAGE_PRESIGN, a redirect to a presigned URL instead."""
    artifact = store.get_artifact(artifact_id)
    storage = storage_for(settings)
    name = artifact.path.rsplit("/", 1)[-1]
    disposition = f'{"attachment" if download else "inline"}; filename="{name}"' if download else "inline"
    local = storage.local_path(artifact.path)
    if local is not None:
        return FileResponse(
            local,
            media_type=artifact.mime,
            filename=name if download else None,
            content_disposition_type="attachment" if download else "inline",
        )
    presigned = storage.presigned_url(artifact.path)
    if presigned:
        return RedirectResponse(presigned, status_code=307)
    try:
        size = storage.size(artifact.path)
    except (NotFound, OSError):
        raise NotFound(f"the file of artifact {artifact_id!r} is missing") from None
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": disposition}
    start, end, status = 0, size - 1, 200
    match = _RANGE.match(request.headers.get("range", ""))
    if match and (match[1] or match[2]):
        if match[1]:
            start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
        else:  # a suffix: the last N bytes
            start = max(0, size - int(match[2]))
        if start > end or start >= size:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        _chunks(storage.open(artifact.path), start, end - start + 1), status, headers, media_type=artifact.mime
    )


def _chunks(reader: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with reader:
        reader.seek(start)
        while length > 0:
            block = reader.read(min(CHUNK, length))
            if not block:
                break
            length -= len(block)
            yield block
