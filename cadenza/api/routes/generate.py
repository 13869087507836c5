"""POST /api/v1/generate: the flat shape simpler music-generation services expose."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header

from cadenza.api.contract import SUBMIT_ERRORS
from cadenza.api.deps import ServiceDep
from cadenza.errors import InputError
from cadenza.jobs.schemas import JobPublic, job_public

router = APIRouter(tags=["jobs"])


@router.post("/generate", status_code=202, response_model=JobPublic, responses=SUBMIT_ERRORS)
def generate(
    service: ServiceDep,
    body: Annotated[dict[str, Any], Body(examples=[{"prompt": "lofi hip hop, rainy night", "duration": 30}])],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobPublic:
    """`{"prompt", "duration", ...}` (any generate field, plus optional `engine`) as a generate job."""
    fields = dict(body)
    engine = fields.pop("engine", None)
    if engine is not None and not isinstance(engine, str):
        raise InputError(f"engine must be an engine name, got {engine!r}; see GET /api/v1/engines")
    job = service.submit(task="generate", engine=engine, input=fields, idempotency_key=idempotency_key, strict=True)
    return job_public(service.get(job.id))
