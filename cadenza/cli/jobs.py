"""`cadenza jobs list|show|cancel|rm`: the history, from the database this machine uses."""

from __future__ import annotations

from typing import Annotated

import typer

from cadenza.cli.common import console, domain_errors, emit_json, service

app = typer.Typer(help="Browse and manage the job history.", no_args_is_help=True)


@app.command("list")
def list_jobs(
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed, cancelled")] = None,
    search: Annotated[str | None, typer.Option(help="Text in the prompt")] = None,
    task: Annotated[str | None, typer.Option(help="Only this task")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Jobs, newest first."""
    from cadenza.jobs.schemas import job_public

    with domain_errors(as_json):
        page = service().list(status=status, task=task, text=search, limit=limit)
    if as_json:
        emit_json({"items": [job_public(j).model_dump(mode="json") for j in page.items]})
        return
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("id", "created", "task", "engine", "status", "prompt"):
        table.add_column(column, overflow="fold")
    for job in page.items:
        table.add_row(job.id, f"{job.created_at:%Y-%m-%d %H:%M}", job.task, job.engine, job.status, job.prompt[:60])
    console.print(table)


@app.command("show")
def show(job_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One job with its recipe and artifacts."""
    from cadenza.jobs.schemas import job_public

    with domain_errors(as_json):
        job = service().get(job_id)
    public = job_public(job).model_dump(mode="json")
    if as_json:
        emit_json(public)
        return
    from rich.pretty import Pretty

    console.print(Pretty(public))


@app.command("cancel")
def cancel(job_id: str) -> None:
    """Cancel a queued or running job."""
    with domain_errors():
        job = service().cancel(job_id)
    console.print(f"job {job.id}: {job.status}{' (stopping)' if job.status == 'running' else ''}")


@app.command("rm")
def remove(job_id: str) -> None:
    """Delete a job and its files."""
    with domain_errors():
        service().delete(job_id)
    console.print(f"job {job_id} deleted")
