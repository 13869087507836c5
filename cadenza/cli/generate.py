"""`cadenza generate`: locally through the job service and worker, or on a server with --server."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cadenza.cli.common import (
    ADVANCED_HELP,
    Loras,
    advanced_fields,
    console,
    domain_errors,
    emit_json,
    fail,
    progress_bar,
    service,
)

if TYPE_CHECKING:
    from cadenza.config import Settings

Option = typer.Option


def generate(
    prompt: Annotated[str, typer.Argument(help="What the music should be, in free text")] = "",
    duration: Annotated[float | None, Option("--duration", "-d", help="Seconds, 5 to 600 [default: 30]")] = None,
    seed: Annotated[int | None, Option(help="Same seed, same song; default random")] = None,
    bpm: Annotated[float | None, Option(help="Tempo, 40 to 240")] = None,
    key: Annotated[str | None, Option(help="e.g. 'A minor', 'F# major', 'Bb'")] = None,
    time_signature: Annotated[str | None, Option("--time-signature", help="2/4 3/4 4/4 5/4 6/8 12/8")] = None,
    genre: Annotated[str | None, Option(help="See `cadenza engines` for the list")] = None,
    lyrics: Annotated[Path | None, Option(help="A text file of tagged lyrics", exists=True, dir_okay=False)] = None,
    engine: Annotated[str | None, Option(help="Default: the task's default engine")] = None,
    model: Annotated[
        str | None, Option(help="Neural engines: a model id (cadenza models list) or a saved model directory")
    ] = None,
    advanced: Annotated[str | None, Option(help=ADVANCED_HELP)] = None,
    lora: Loras = None,
    audio_format: Annotated[str | None, Option("--format", help="wav, flac or mp3 [default: wav]")] = None,
    out: Annotated[Path, Option(help="Where to write the files")] = Path("cadenza-out"),
    recipe: Annotated[Path | None, Option(help="Reproduce the result of this recipe.json", exists=True)] = None,
    server: Annotated[str | None, Option(help="Submit to a Cadenza server at this URL instead")] = None,
    as_json: Annotated[bool, Option("--json", help="Print one JSON object instead of a table")] = False,
) -> None:
    """Make a song from a prompt: mix, stems, MIDI and recipe land in --out."""
    fields, chosen_engine = _request_fields(locals(), recipe, as_json)
    if server:
        from cadenza.cli.remote import run_remote

        run_remote(server, "generate", chosen_engine, fields, out, as_json)
        return
    run_local("generate", chosen_engine, fields, out, as_json)


def _request_fields(options: dict[str, Any], recipe: Path | None, as_json: bool) -> tuple[dict[str, Any], str | None]:
    fields: dict[str, Any] = {}
    engine = options["engine"]
    if recipe is not None:
        try:
            saved = json.loads(recipe.read_text())
            fields = dict(saved["request"])
        except (ValueError, KeyError, TypeError):
            fail(f"{recipe} is not a Cadenza recipe (expected JSON with a 'request' object)", as_json=as_json)
        fields.pop("task", None)
        engine = engine or saved.get("engine")
    explicit = {
        "prompt": options["prompt"] or None,
        "duration": options["duration"],
        "seed": options["seed"],
        "bpm": options["bpm"],
        "key": options["key"],
        "time_signature": options["time_signature"],
        "genre": options["genre"],
        "format": options["audio_format"],
        "lyrics": options["lyrics"].read_text() if options["lyrics"] else None,
    }
    fields.update({name: value for name, value in explicit.items() if value is not None})
    advanced = advanced_fields(options["advanced"], options["model"], as_json, options["lora"])
    if advanced:
        fields["advanced"] = {**fields.get("advanced", {}), **advanced}
    return fields, engine


def run_local(task: str, engine: str | None, fields: dict[str, Any], out: Path, as_json: bool) -> None:
    """Record the job, run it in this process through the worker, copy its files into `out`."""
    from cadenza.jobs.worker import run_job

    with domain_errors(as_json):
        jobs = service()
        job = jobs.submit(task=task, engine=engine, input=fields, enqueue=False)
    cancel = threading.Event()
    outcome: dict[str, Any] = {}
    # Whatever a library prints while the job runs (basic-pitch says "Predicting MIDI") goes to stderr:
    # stdout carries only the result, so `--json` output parses and `> file` holds what was asked for.
    with contextlib.redirect_stdout(sys.stderr), progress_bar() as bar:
        bar_task = bar.add_task("job", total=1.0, stage="queued")

        def listener(fraction: float, stage: str) -> None:
            bar.update(bar_task, completed=fraction, stage=stage)

        finished = threading.Event()

        def work() -> None:
            try:
                outcome["job"] = run_job(jobs.settings, jobs.store, job.id, listener=listener, cancel_event=cancel)
            finally:
                finished.set()

        threading.Thread(target=work, name="cadenza-local-job", daemon=True).start()
        # Wait on an Event, not Thread.join: a KeyboardInterrupt inside join() can leave the thread looking
        # finished while it still runs (CPython gh-90882).
        try:
            while not finished.wait(0.1):
                pass
        except KeyboardInterrupt:
            cancel.set()
            console.print("[yellow]cancelling...[/]")
            finished.wait()
    report(outcome.get("job") or jobs.get(job.id), jobs.settings, out, as_json)


def report(job: Any, settings: Settings, out: Path, as_json: bool) -> None:
    """Copy a finished job's files into `out` and print what was made (or why not)."""
    from cadenza.errors import CadenzaError
    from cadenza.storage import storage_for

    if job.status != "succeeded":
        error = CadenzaError(job.error_message or job.status)
        error.category = job.error_category or job.status
        fail(error, as_json=as_json)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for artifact in job.artifacts:
        storage = storage_for(settings)  # with S3 storage: this host's copy of the object
        source = storage.local_path(artifact.path) or storage.fetch(artifact.path)
        target = out / source.name
        _link_or_copy(source, target)
        written.append(
            {
                "role": artifact.role,
                "kind": artifact.kind,
                "path": str(target),
                "mime": artifact.mime,
                "bytes": artifact.bytes,
                "sha256": artifact.sha256,
            }
        )
    if as_json:
        emit_json({"status": job.status, "job_id": job.id, "artifacts": written, "recipe": job.recipe})
        return
    _print_summary(job, written)


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)  # the history keeps its copy; a hard link costs nothing
    except OSError:
        shutil.copy2(source, target)


def _print_summary(job: Any, written: list[dict[str, Any]]) -> None:
    from rich.table import Table

    style = (job.recipe or {}).get("style", {})
    if style:
        console.print(
            f"[bold green]done[/] {style.get('genre')} · {style.get('bpm'):g} bpm · {style.get('key')} · "
            f"{style.get('time_signature')} · seed {job.recipe.get('seed')}  (job {job.id})",
            highlight=False,
        )
        if style.get("genre_reason"):
            console.print(f"genre: {style['genre']} ({style['genre_reason']})", highlight=False, markup=False)
    table = Table(show_header=True, header_style="bold")
    table.add_column("role")
    table.add_column(f"file (in {Path(written[0]['path']).parent if written else '.'})", overflow="fold")
    for item in written:
        table.add_row(item["role"], Path(item["path"]).name)
    console.print(table)
