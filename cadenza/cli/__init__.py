"""The `cadenza` command. Heavy modules are imported inside commands so `cadenza --help` stays fast."""

from __future__ import annotations

import typer

from cadenza.cli import db, doctor, engines, generate, jobs, loras, models, serve, tasks, video, workers
from cadenza.cli.workflows import app as workflows_app

app = typer.Typer(
    name="cadenza",
    help="Cadenza: a local-first AI music studio. Every piece of work is a job with a recipe.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.command("generate")(generate.generate)
app.command("lyrics")(tasks.lyrics)
app.command("cover")(tasks.cover)
app.command("edit")(tasks.edit)
app.command("extend")(tasks.extend)
app.command("master")(tasks.master)
app.command("stems")(tasks.stems)
app.command("export")(tasks.export)
app.command("engines")(engines.engines)
app.command("doctor")(doctor.doctor)
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)
app.command("workers")(workers.workers)
app.add_typer(jobs.app, name="jobs")
app.add_typer(db.app, name="db")
app.add_typer(models.app, name="models")
app.add_typer(video.app, name="video")
app.add_typer(loras.app, name="loras")
app.add_typer(workflows_app, name="workflows")


def main() -> None:
    app()
