"""`cadenza jobs list|show|cancel|rm`: the history, from the database this machine uses.

A job id may be shortened to any prefix that only one job's id begins with.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cadenza.cli.common import console, domain_errors, emit_json, service

app = typer.Typer(help="Browse and manage the job history.", no_args_is_help=True)
JobId = Annotated[str, typer.Argument(help="A job id, or the first characters of one")]


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
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("id", "created", "task", "engine", "status", "prompt"):
        table.add_column(column, overflow="fold")
    for job in page.items:
        created = f"{job.created_at:%Y-%m-%d %H:%M}"
        table.add_row(job.id, created, job.task, job.engine, job.status, escape(job.prompt[:60]))
    console.print(table)


@app.command("show")
def show(job_id: JobId, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One job with its request, recipe and artifacts."""
    from cadenza.jobs.schemas import job_public

    with domain_errors(as_json):
        jobs = service()
        job = jobs.get(jobs.resolve_id(job_id))
    public = job_public(job).model_dump(mode="json")
    if as_json:
        emit_json(public)
        return
    _print_job(public)


def _print_job(job: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    lines = [
        f"[bold]job[/] {job['id']}",
        f"[bold]task[/] {job['task']} · [bold]engine[/] {job['engine']} · [bold]status[/] {job['status']}"
        f" ({job['progress']:.0%}, {escape(job['stage'])}) · attempts {job['attempts']}",
        f"[bold]created[/] {job['created_at']}  [bold]finished[/] {job['finished_at'] or '-'}",
    ]
    if job["parent_id"]:
        lines.append(f"[bold]parent[/] {job['parent_id']}")
    if job["error"]:
        lines.append(f"[bold red]error[/] ({job['error']['category']}) {escape(job['error']['message'])}")
    for line in lines:
        console.print(line, highlight=False)
    request = Table("field", "value", title="request", title_justify="left", header_style="bold")
    for name, value in job["input"].items():
        if value not in (None, {}, []):
            request.add_row(name, escape(str(value)))
    console.print(request)
    if job["artifacts"]:
        files = Table("role", "file", "bytes", title="artifacts", title_justify="left", header_style="bold")
        for artifact in job["artifacts"]:
            files.add_row(artifact["role"], escape(artifact["filename"]), f"{artifact['bytes']:,}")
        console.print(files)


@app.command("cancel")
def cancel(job_id: JobId) -> None:
    """Cancel a queued or running job."""
    with domain_errors():
        jobs = service()
        job = jobs.cancel(jobs.resolve_id(job_id))
    console.print(f"job {job.id}: {job.status}{' (stopping)' if job.status == 'running' else ''}")


@app.command("rm")
def remove(job_id: JobId) -> None:
    """Delete a job and its files."""
    with domain_errors():
        jobs = service()
        full_id = jobs.resolve_id(job_id)
        jobs.delete(full_id)
    console.print(f"job {full_id} deleted")
