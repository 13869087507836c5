"""/api/v1/jobs: submit, history, one job, its event stream, cancel, delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from cadenza.api.contract import SUBMIT_ERRORS
from cadenza.api.deps import ServiceDep
from cadenza.jobs.models import FINISHED, Job
from cadenza.jobs.schemas import JobCreate, JobList, JobPublic, job_public

router = APIRouter(prefix="/jobs", tags=["jobs"])
EVENT_POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


@router.post("", status_code=202, response_model=JobPublic, responses=SUBMIT_ERRORS)
def submit(
    body: JobCreate,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobPublic:
    """Queue a job. The same `Idempotency-Key` always returns the same job."""
    job = service.submit(
        task=body.task,
        engine=body.engine,
        input=body.input,
        parent_id=body.parent_id,
        idempotency_key=idempotency_key,
        strict=True,
    )
    return job_public(service.get(job.id))


@router.get("", response_model=JobList)
def history(
    service: ServiceDep,
    status: Status | None = None,
    task: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the prompt")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> JobList:
    """Jobs newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = service.list(status=status, task=task, text=q, limit=limit, cursor=cursor)
    return JobList(items=[job_public(job) for job in page.items], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: str, service: ServiceDep) -> JobPublic:
    return job_public(service.get(job_id))


def existing_job(job_id: str, service: ServiceDep) -> Job:
    """Resolved before a stream starts, so an unknown id is a 404 rather than a broken stream."""
    return service.get(job_id)


@router.get("/{job_id}/events", response_class=EventSourceResponse)
async def events(
    job_id: str, job: Annotated[Job, Depends(existing_job)], service: ServiceDep, request: Request
) -> AsyncIterator[ServerSentEvent]:
    """`status` and `progress` events as they happen, then `completed` carrying the job."""
    last: tuple[str, float, str] | None = None
    quiet = 0.0
    while True:
        public = job_public(job)
        if last is None or public.status != last[0]:
            yield ServerSentEvent(event="status", data=public.status)
        if last is None or (public.progress, public.stage) != (last[1], last[2]):
            yield ServerSentEvent(event="progress", data={"value": public.progress, "stage": public.stage})
            quiet = 0.0
        if public.status in FINISHED:
            yield ServerSentEvent(event="completed", data=public.model_dump(mode="json"))
            return
        last = (public.status, public.progress, public.stage)
        if await request.is_disconnected():
            return
        await asyncio.sleep(EVENT_POLL_SECONDS)
        quiet += EVENT_POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:  # proxies drop silent streams; a comment keeps this one open
            yield ServerSentEvent(comment="keep-alive")
            quiet = 0.0
        job = await asyncio.to_thread(service.get, job_id)


@router.post("/{job_id}/cancel", response_model=JobPublic)
def cancel(job_id: str, service: ServiceDep) -> JobPublic:
    return job_public(service.cancel(job_id))


@router.delete("/{job_id}", status_code=204)
def delete(job_id: str, service: ServiceDep) -> Response:
    service.delete(job_id)
    return Response(status_code=204)
