"""Collaborators routes receive through `Annotated` dependencies."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from cadenza.config import Settings
from cadenza.jobs.links import signature_matches
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store

_bearer = HTTPBearer(auto_error=False)


# These dependencies are `async def` because they never block: FastAPI runs a plain `def` dependency
# in its thread pool, a hop that cost each request more than reading its job did.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_service(request: Request) -> JobService:
    return request.app.state.service


async def get_store(request: Request) -> Store:
    return request.app.state.service.store


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """When CADENZA_API_TOKEN is set, every /api/v1 route needs `Authorization: Bearer <token>`.

    A file URL signed for its artifact (`?sig=`, see jobs/links.py) stands in for the header, so the
    studio's players can stream files."""
    token = request.app.state.settings.api_token
    if not token:
        return
    artifact_id, signature = request.path_params.get("artifact_id"), request.query_params.get("sig")
    if artifact_id and signature and signature_matches(token, artifact_id, signature):
        return
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[JobService, Depends(get_service)]
StoreDep = Annotated[Store, Depends(get_store)]
