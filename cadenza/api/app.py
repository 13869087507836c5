"""create_app: the FastAPI application, its job service and, when embedded, its workers.

uvicorn --factory cadenza.api.app:create_app
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from cadenza import __version__
from cadenza.api import errors
from cadenza.api.deps import require_token
from cadenza.api.routes import files, generate, jobs, loras, system, uploads
from cadenza.config import Settings, load_settings
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.queue import make_queue
from cadenza.jobs.recovery import Reaper, recover_on_start
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store

log = logging.getLogger("cadenza.api")
API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, workers: int = 1, ui: bool = False) -> FastAPI:
    """The app; `workers` > 0 runs that many embedded consumer threads (0: separate `cadenza worker`s).

    `ui` mounts the Gradio web studio at / (Gradio is imported only then).
    """
    settings = settings or load_settings()
    ensure_schema(settings.database)
    store = Store(settings.database)
    queue = make_queue(settings)
    service = JobService(settings, store, queue.enqueue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        consumer, reaper = None, None
        if workers > 0:
            recover_on_start(settings, store, queue.enqueue)
            consumer = queue.consumer(workers, embedded=True)
            consumer.start()
            reaper = Reaper(settings, store, queue.enqueue)
            reaper.start()
        yield
        if reaper is not None:
            reaper.stop()
        if consumer is not None:
            consumer.stop(graceful=False)

    app = FastAPI(
        title="Cadenza",
        version=__version__,
        summary="A local-first AI music studio: every piece of work is a job.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.queue = queue
    errors.install(app)
    protected = [Depends(require_token)]
    for router in (jobs.router, files.router, uploads.router, generate.router, system.router, loras.router):
        app.include_router(router, prefix=API_PREFIX, dependencies=protected)
    app.include_router(system.health_router)
    if ui:
        from cadenza.ui.app import mount_studio

        mount_studio(app, service)
    return app
