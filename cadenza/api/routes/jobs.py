"""/api/v1/jobs: submit, history, one job, its event stream, cancel, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from cadenza.api.contract import SUBMIT_ERRORS
from cadenza.api.deps import ServiceDep
from cadenza.api.events import JobState, JobWatcher, sse
from cadenza.jobs.models import Job
from cadenza.jobs.schemas import JobCreate, JobList, JobPublic, job_public

router = APIRouter(prefix="/jobs", tags=["jobs"])
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
    return job_public(job)  # the row as inserted: reading it back would only cost a query


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
async def get_job(job_id: str, service: ServiceDep) -> Response:
    # A local SQLite read (WAL: readers never wait for the writer) takes less than a hop to a thread,
    # and JobPublic is serialised once here rather than validated again against the response model.
    job = service.get(job_id) if service.store.local else await run_in_threadpool(service.get, job_id)
    return Response(job_public(job).model_dump_json(by_alias=True), media_type="application/json")


def existing_job(job_id: str, service: ServiceDep) -> Job:
    """Resolved before a stream starts, so an unknown id is a 404 rather than a broken stream."""
    return service.get(job_id)


EVENTS_DOC = {
    200: {
        "content": {
            "text/event-stream": {
                "itemSchema": {
                    "type": "object",
                    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
                }
            }
        },
        "description": "`status`, `progress` and `completed` events",
    }
}


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


@router.get("/{job_id}/events", response_class=EventStream, responses=EVENTS_DOC)
async def events(job: Annotated[Job, Depends(existing_job)], request: Request) -> EventStream:
    """`status` and `progress` events as they happen, then `completed` carrying the job."""
    watcher: JobWatcher = request.app.state.job_watcher

    # Pre-formatted events straight into the response: FastAPI's generator endpoints add two memory
    # streams, two tasks and a timer per event, the most of what 500 open streams cost.
    async def stream() -> AsyncIterator[bytes]:
        async with watcher.watch(job) as watch:
            state: JobState | None = watch.state
            last: JobState | None = None
            while True:
                if state is None:  # quiet for KEEPALIVE_SECONDS: proxies drop silent streams
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                else:
                    if state.status == "deleted":
                        return
                    if last is None or state.status != last.status:
                        yield state.status_event
                    if last is None or (state.progress, state.stage) != (last.progress, last.stage):
                        yield state.progress_event
                    if state.job is not None:
                        yield sse("completed", job_public(state.job).model_dump(mode="json"))
                        return
                    last = state
                state = await watch.next(KEEPALIVE_SECONDS)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return EventStream(stream(), headers=headers)


@router.post("/{job_id}/cancel", response_model=JobPublic)
def cancel(job_id: str, service: ServiceDep) -> JobPublic:
    return job_public(service.cancel(job_id))


@router.delete("/{job_id}", status_code=204)
def delete(job_id: str, service: ServiceDep) -> Response:
    service.delete(job_id)
    return Response(status_code=204)
