"""`cadenza serve` (API + embedded workers) and `cadenza worker` (a standalone consumer)."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

import typer

from cadenza.cli.common import domain_errors, fail

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    workers: Annotated[int, typer.Option(help="Consumer threads (one per device is usual)", min=1)] = 1,
) -> None:
    """Run a standalone consumer of the shared queue (set CADENZA_QUEUE_URL and CADENZA_DATABASE_URL)."""
    from cadenza.config import load_settings
    from cadenza.jobs.db import ensure_schema
    from cadenza.jobs.queue import make_queue
    from cadenza.jobs.recovery import Reaper, recover_on_start
    from cadenza.jobs.store import Store

    settings = load_settings()
    with domain_errors():
        ensure_schema(settings.database)
    store = Store(settings.database)
    queue = make_queue(settings)
    recover_on_start(settings, store, queue.enqueue)
    reaper = Reaper(settings, store, queue.enqueue)
    reaper.start()
    try:
        queue.consumer(workers, embedded=False).run()
    finally:
        reaper.stop()
