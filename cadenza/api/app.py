"""create_app: the FastAPI application, its job service and, when embedded, its workers.

uvicorn --factory cadenza.api.app:create_app
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from cadenza import __version__
from cadenza.api import errors, metrics
from cadenza.api.deps import require_token
from cadenza.api.routes import files, generate, jobs, loras, system, uploads
from cadenza.api.routes import workers as workers_routes
from cadenza.config import Settings, load_settings
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.queue import available_engines, make_queue
from cadenza.jobs.recovery import Reaper, recover_on_start
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store
from cadenza.jobs.workers import Announcer, Offer, announce_interval

log = logging.getLogger("cadenza.api")
API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, workers: int = 1, ui: bool = False) -> FastAPI:
    """The app; `workers` > 0 runs that many embedded consumer threads (0: separate `cadenza worker`s).

    `ui` mounts the Gradio web studio at / (Gradio is imported only then).
    """
    settings = settings or load_settings()
    ensure_schema(settings.database)
    store = Store(settings.database)
    offer = Offer(tuple(available_engines()), settings.device or "auto", workers) if workers > 0 else None
    queue = make_queue(settings, offer.engines if offer else ())
    service = JobService(settings, store, queue.enqueue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        consumer = None
        if workers > 0:
            recover_on_start(settings, store, queue.enqueue)
            consumer = queue.consumer(workers, embedded=True)
            consumer.start()
        # Even with no embedded workers the API reaps jobs of dead workers and marks jobs no one can run.
        reaper = Reaper(settings, store, queue.enqueue)
        reaper.start()
        announcer = Announcer(store, offer, announce_interval(settings), settings.stale_after_seconds)
        announcer.start()
        yield
        announcer.stop()
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
    routers = (jobs, files, uploads, generate, system, loras, workers_routes)
    for router in (module.router for module in routers):
        app.include_router(router, prefix=API_PREFIX, dependencies=protected)
    app.include_router(system.health_router)
    metrics.install(app)
    if ui:
        from cadenza.ui.app import mount_studio

        mount_studio(app, service)
    return app
