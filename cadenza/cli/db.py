"""`cadenza db upgrade`: bring the job database to the schema this Cadenza needs."""

from __future__ import annotations

import typer

from cadenza.cli.common import console

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply pending migrations (back up the database first)."""
    from cadenza.config import load_settings
    from cadenza.jobs.db import schema_revision
    from cadenza.jobs.db import upgrade as run_upgrade

    settings = load_settings()
    before, _ = schema_revision(settings.database)
    after = run_upgrade(settings.database)
    console.print(f"database at revision {after} (was {before or 'empty'})")
