"""What every command shares: settings, the service, error reporting, the progress bar."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

    from cadenza.errors import CadenzaError
    from cadenza.jobs.service import JobService

console = Console(stderr=True)
EXIT_CODES = {"input": 2, "not_found": 2, "conflict": 2, "unavailable": 3, "queue_full": 4, "cancelled": 130}


def service() -> JobService:
    from cadenza.config import load_settings
    from cadenza.jobs.db import ensure_schema
    from cadenza.jobs.service import JobService
    from cadenza.jobs.store import Store

    settings = load_settings()
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


def fail(error: CadenzaError | str, *, as_json: bool = False, category: str = "input") -> NoReturn:
    from rich.markup import escape

    message = error if isinstance(error, str) else error.message
    category = category if isinstance(error, str) else error.category
    if as_json:
        print(json.dumps({"status": "failed", "error": {"category": category, "message": message}}))
    else:
        console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_CODES.get(category, 1))


@contextmanager
def domain_errors(as_json: bool = False) -> Iterator[None]:
    """Turn Cadenza's errors into a one-line message and an exit code, never a traceback."""
    from cadenza.errors import CadenzaError

    try:
        yield
    except CadenzaError as exc:
        fail(exc, as_json=as_json)


def progress_bar() -> Progress:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[stage]:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def emit_json(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, indent=2, default=str))


ADVANCED_HELP = "Engine parameters as a JSON object, e.g. '{\"guidance_scale\": 4}' (see `cadenza engines --json`)"


LORA_HELP = "A stored LoRA adapter to apply, NAME or NAME:WEIGHT (default weight 1); repeat for several"
Loras = Annotated[list[str] | None, typer.Option("--lora", help=LORA_HELP)]


def lora_choices(values: list[str], as_json: bool = False) -> list[dict[str, Any]]:
    """`--lora NAME[:WEIGHT]` options as the request's `loras` list."""
    choices = []
    for value in values:
        name, _, weight = value.rpartition(":") if ":" in value else (value, "", "")
        try:
            choices.append({"name": name, "weight": float(weight) if weight else 1.0})
        except ValueError:
            fail(f"--lora {value!r}: the weight after ':' must be a number, e.g. --lora {name}:0.8", as_json=as_json)
    return choices


def advanced_fields(
    text: str | None, model: str | None, as_json: bool = False, loras: list[str] | None = None
) -> dict[str, Any]:
    """The request's `advanced` object from --advanced JSON, --model (a directory is made absolute) and --lora."""
    advanced: dict[str, Any] = {}
    if text:
        try:
            advanced = json.loads(text)
        except ValueError as exc:
            fail(f"--advanced is not JSON ({exc.msg}); expected an object such as '{{\"steps\": 50}}'", as_json=as_json)
        if not isinstance(advanced, dict):
            fail("--advanced must be a JSON object such as '{\"steps\": 50}'", as_json=as_json)
    if model:
        folder = Path(model).expanduser()
        advanced["model"] = str(folder.resolve()) if folder.is_dir() else model
    if loras:
        advanced["loras"] = lora_choices(loras, as_json)
    return advanced
