"""create_app: the FastAPI application, its job service and, when embedded, its workers.

uvicorn --factory cadenza.api.app:create_app
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Match, Mount
from starlette.types import Scope

from cadenza import __version__
from cadenza.api import contract, errors, metrics
from cadenza.api.deps import require_token
from cadenza.api.events import JobWatcher
from cadenza.api.middleware.access import AccessGuard, LoginThrottle, MethodGuard
from cadenza.api.middleware.asgi import is_loopback
from cadenza.api.middleware.limits import BodyLimit, EventStreamCap
from cadenza.api.routes import files, generate, jobs, loras, system, uploads
from cadenza.api.routes import workers as workers_routes
from cadenza.config import Settings, load_settings
from cadenza.errors import InputError
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.queue import available_engines, make_queue
from cadenza.jobs.recovery import Reaper, recover_on_start
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store
from cadenza.jobs.workers import Announcer, Offer, announce_interval

log = logging.getLogger("cadenza.api")
API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None, workers: int = 1, ui: bool = False, host: str | None = None
) -> FastAPI:
    """The app; `workers` > 0 runs that many embedded consumer threads (0: separate `cadenza worker`s).

    `ui` mounts the Gradio web studio at / (Gradio is imported only then). `host` is the address the
    server binds, when known: without CADENZA_API_TOKEN only a loopback one is accepted, and in any case
    the app answers only loopback clients when there is no token (so `uvicorn --factory` is safe too).
    """
    settings = settings or load_settings()
    if host is not None and not is_loopback(host) and not settings.api_token:
        raise InputError(
            f"refusing to serve on {host}: set CADENZA_API_TOKEN so every /api/v1 request needs "
            "'Authorization: Bearer <token>', or bind 127.0.0.1"
        )
    ensure_schema(settings.database)
    store = Store(settings.database)
    offer = Offer(tuple(available_engines()), settings.device or "auto", workers) if workers > 0 else None
    queue = make_queue(settings, offer.engines if offer else ())
    service = JobService(settings, store, queue.enqueue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Recovery runs in every server, with or without embedded workers: a job whose standalone
        # worker died is requeued by whichever process notices first.
        recover_on_start(settings, store, queue.enqueue)
        reaper = Reaper(settings, store, queue.enqueue, chores=[service.expire_uploads])
        reaper.start()
        consumer = None
        if workers > 0:
            consumer = queue.consumer(workers, embedded=True)
            consumer.start()
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
    app.state.job_watcher = JobWatcher(store)
    errors.install(app)
    contract.install(app)
    protected = [Depends(require_token)]
    routers = (jobs, files, uploads, generate, system, loras, workers_routes)
    for router in (module.router for module in routers):
        app.include_router(router, prefix=API_PREFIX, dependencies=protected, responses=contract.COMMON_ERRORS)
    app.include_router(system.health_router, responses={400: contract.COMMON_ERRORS[400]})
    metrics.install(app)
    if ui:
        from cadenza.ui.app import mount_studio

        mount_studio(app, service)
        _keep_api_paths_from_the_studio(app)
    # Innermost first: the last one added sees a request first.
    app.add_middleware(EventStreamCap, settings=settings)
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(LoginThrottle)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(AccessGuard, settings=settings, bind_host=host)
    app.add_middleware(MethodGuard, openapi=app.openapi, cors=bool(settings.cors_origins))
    return app


class _StudioMount(Mount):
    """The studio's mount at /, blind to /api/...: unknown API paths get the API's own 404 and a wrong
    method its 405, instead of the studio's answer."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


def _keep_api_paths_from_the_studio(app: FastAPI) -> None:
    routes = app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, Mount) and route.path == "":
            routes[index] = _StudioMount(route.path, app=route.app, name=route.name)
