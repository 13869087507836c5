"""`cadenza serve` (API + embedded workers) and `cadenza worker` (a standalone consumer)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cadenza.cli.common import domain_errors, fail


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; anything but loopback needs CADENZA_API_TOKEN")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Embedded worker threads (0: use `cadenza worker`s)", min=0)] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request")] = False,
    ui: Annotated[bool, typer.Option(help="Serve the web studio at /")] = True,
) -> None:
    """Serve the web studio (/), the API (/api/v1, docs at /docs) and embedded workers: one queue, one history."""
    from cadenza.api.middleware.asgi import is_loopback

    if not is_loopback(host) and not os.environ.get("CADENZA_API_TOKEN"):
        fail(
            f"refusing to bind {host}: set CADENZA_API_TOKEN so every /api/v1 request needs "
            "'Authorization: Bearer <token>', or bind 127.0.0.1"
        )
    import uvicorn

    from cadenza.api.app import create_app

    with domain_errors():
        app = create_app(workers=workers, ui=ui, host=host)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log, timeout_graceful_shutdown=5)


def worker(
    engines: Annotated[
        str | None, typer.Option(help="Comma-separated engines this worker runs (default: every one available here)")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cuda:0, mps or cpu (default: CADENZA_DEVICE or the best)")] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "--workers", help="Jobs run at once (one per device is usual)", min=1)
    ] = 1,
) -> None:
    """Run a standalone consumer of the shared queue (set CADENZA_QUEUE_URL and CADENZA_DATABASE_URL).

    On Redis it takes only jobs for its engines, and announces them, its device and free memory with
    its heartbeat (`cadenza workers` lists them).
    """
    os.environ.setdefault("CADENZA_DB_POOL_SIZE", str(2 * concurrency + 4))  # runs, heartbeats, announcer, reaper
    from cadenza.config import load_settings
    from cadenza.jobs.db import ensure_schema
    from cadenza.jobs.queue import available_engines, make_queue
    from cadenza.jobs.recovery import Reaper, recover_on_start
    from cadenza.jobs.store import Store
    from cadenza.jobs.workers import Announcer, Offer, announce_interval

    settings = load_settings(**({"device": device} if device else {}))
    offered = _offered_engines(engines, available_engines())
    with domain_errors():
        ensure_schema(settings.database)
    store = Store(settings.database)
    queue = make_queue(settings, offered)
    offer = Offer(tuple(offered), settings.device or "auto", concurrency)
    announcer = Announcer(store, offer, announce_interval(settings), settings.stale_after_seconds)
    announcer.start()
    recover_on_start(settings, store, queue.enqueue)
    reaper = Reaper(settings, store, queue.enqueue)
    reaper.start()
    try:
        queue.consumer(concurrency, embedded=False).run()
    finally:
        reaper.stop()
        announcer.stop()


def _offered_engines(asked: str | None, available: list[str]) -> list[str]:
    from cadenza.engines.registry import ENGINES

    if not asked:
        return available
    names = [name.strip() for name in asked.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        fail(f"unknown engine(s) {', '.join(unknown)} in --engines; accepted: {', '.join(ENGINES)}")
    missing = [name for name in names if name not in available]
    if missing:
        fail(
            f"engine(s) {', '.join(missing)} cannot run here (see `cadenza engines`); available: {', '.join(available)}"
        )
    return names
