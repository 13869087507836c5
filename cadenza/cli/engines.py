"""`cadenza engines`: what can run here, and why not."""

from __future__ import annotations

from typing import Annotated

import typer

from cadenza.cli.common import console, emit_json


def engines(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List engines, the tasks each serves, availability with the reason, and the SoundFont in use."""
    from cadenza.engines import registry
    from cadenza.engines.procedural.genres import GENRES
    from cadenza.engines.procedural.soundfont import pick_renderer
    from cadenza.errors import CadenzaError
    from cadenza.loras.choices import adapter_support

    def adapters(name: str) -> str | None:
        try:
            return adapter_support(registry.load(name))
        except CadenzaError:
            return None

    infos = registry.describe()
    renderer = pick_renderer()
    payload = {
        "engines": [
            {
                "name": i.name,
                "tasks": list(i.tasks),
                "available": i.available,
                "reason": i.reason,
                "default_for": [t for t, n in registry.DEFAULTS.items() if n == i.name],
                "advanced_schema": registry.advanced_schemas(i.name),
                "adapters": adapters(i.name),
            }
            for i in infos
        ],
        "renderer": {
            "kind": renderer.kind,
            "soundfont": str(renderer.soundfont) if renderer.soundfont else None,
            "note": renderer.note,
        },
        "genres": list(GENRES),
    }
    if as_json:
        emit_json(payload)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("engine", "tasks", "available", "notes"):
        table.add_column(column)
    for item in payload["engines"]:
        state = "[green]yes[/]" if item["available"] else "[red]no[/]"
        notes = escape(item["reason"]) + (f"\n{escape(item['adapters'])}" if item["adapters"] else "")
        table.add_row(item["name"], ", ".join(item["tasks"]), state, notes)
    console.print(table)
    console.print(f"renderer: {renderer.note}", highlight=False, markup=False)
    console.print(f"procedural genres: {', '.join(GENRES)}", highlight=False)
