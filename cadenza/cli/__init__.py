"""The `cadenza` command. Heavy modules are imported inside commands so `cadenza --help` stays fast."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from cadenza.cli import db, doctor, engines, generate, jobs, loras, models, serve, tasks, video, workers
from cadenza.cli.lazy_rich import import_typer_help
from cadenza.cli.workflows import app as workflows_app

# Sub-command groups, turned into commands only when one of them runs (see DeferredGroup).
GROUPS: dict[str, typer.Typer] = {
    "jobs": jobs.app,
    "db": db.app,
    "models": models.app,
    "video": video.app,
    "loras": loras.app,
    "workflows": workflows_app,
}


class DeferredGroup(TyperGroup):
    """A sub-command group that lists with its help alone and reads its commands' signatures only when it runs.

    Typer reads every command function's signature to build the command tree; for the ~50 commands
    under the groups that is a third of `cadenza --help`, which needs only the groups' one-line help.
    """

    def __init__(self, name: str, app: typer.Typer) -> None:
        super().__init__(name=name, help=app.info.help, rich_markup_mode="rich")
        self.app = app

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        real = typer.main.get_group(self.app)
        return real.make_context(info_name, args, parent=parent, **extra)


class CadenzaGroup(TyperGroup):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, group in GROUPS.items():
            self.add_command(DeferredGroup(name, group))


app = typer.Typer(
    name="cadenza",
    cls=CadenzaGroup,
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


def main() -> None:
    import_typer_help()
    app()
