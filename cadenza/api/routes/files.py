"""/api/v1/files/{artifact_id}: artifacts by id only, with HTTP range support."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from cadenza.api.contract import FILE_RESPONSE
from cadenza.api.deps import SettingsDep, StoreDep
from cadenza.errors import NotFound

router = APIRouter(tags=["files"])


@router.get("/files/{artifact_id}", response_class=FileResponse, responses=FILE_RESPONSE)
def download(artifact_id: str, store: StoreDep, settings: SettingsDep, download: bool = False) -> FileResponse:
    """Stream an artifact (`Range` requests let players seek); `?download=1` names the file."""
    artifact = store.get_artifact(artifact_id)
    path = (settings.home / artifact.path).resolve()
    if not path.is_relative_to(settings.home.resolve()) or not path.is_file():
        raise NotFound(f"the file of artifact {artifact_id!r} is missing")
    return FileResponse(
        path,
        media_type=artifact.mime,
        filename=path.name if download else None,
        content_disposition_type="attachment" if download else "inline",
    )
