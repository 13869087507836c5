"""`cadenza workers`: the live workers of the shared database, what they offer and run."""

from __future__ import annotations

from typing import Annotated

import typer

from cadenza.cli.common import console, domain_errors, emit_json


def workers(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Workers whose heartbeat is recent: engines, devices with free memory, jobs running."""
    from cadenza.config import load_settings
    from cadenza.jobs.db import ensure_schema
    from cadenza.jobs.store import Store
    from cadenza.jobs.workers import live_workers, worker_public

    settings = load_settings()
    with domain_errors(as_json):
        ensure_schema(settings.database)
        items = [worker_public(w) for w in live_workers(Store(settings.database), settings.stale_after_seconds)]
    if as_json:
        emit_json({"items": _plain(items)})
        return
    if not items:
        console.print("no live workers (start one with `cadenza worker` or `cadenza serve`)")
        return
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("id", "engines", "devices", "running", "last beat"):
        table.add_column(column, overflow="fold")
    for item in items:
        devices = ", ".join(f"{d['name']} ({d.get('free_mb')} MB free)" for d in item["devices"])
        beat = f"{item['heartbeat_at']:%H:%M:%S}"
        table.add_row(item["id"], ",".join(item["engines"]), devices, f"{item['running']}/{item['concurrency']}", beat)
    console.print(table)


def _plain(items: list[dict]) -> list[dict]:
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item.items()} for item in items]
