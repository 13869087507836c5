"""`cadenza models list|check`: which weights each engine knows and whether they are on this machine."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cadenza.cli.common import console, domain_errors, emit_json

app = typer.Typer(help="Model weights: what each engine knows, where Cadenza looks, what is installed.")


def _status(model_id: str) -> dict[str, Any]:
    from cadenza.errors import CadenzaError
    from cadenza.models.catalog import CATALOG
    from cadenza.models.resolve import fetch_command, resolve

    spec = CATALOG[model_id]
    entry = {
        "id": spec.id,
        "engine": spec.engine,
        "tasks": list(spec.tasks),
        "size_gb": spec.size_gb,
        "vram_gb": spec.vram_gb,
        "licence": spec.licence,
        "repo_id": spec.repo_id,
    }
    try:
        found = resolve(spec.id, spec.engine)
    except CadenzaError as exc:
        return entry | {"installed": False, "path": None, "reason": exc.message, "fetch": fetch_command(spec)}
    return entry | {"installed": True, "path": str(found.path), "revision": found.revision, "looked": found.looked}


@app.command("list")
def list_models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Every model an engine knows: id, engine, tasks, size, VRAM, licence, and whether it is installed."""
    from rich.table import Table

    from cadenza.models.catalog import CATALOG
    from cadenza.models.resolve import models_dir

    rows = [_status(model_id) for model_id in CATALOG]
    where = {
        "models_dir": str(models_dir()) if models_dir() else None,
        "hf_cache": _hf_cache(),
        "order": ["--model PATH", "$CADENZA_MODELS_DIR/<id>", "Hugging Face cache (offline)"],
    }
    if as_json:
        emit_json({"models": rows, "looked_in": where})
        return
    table = Table("id", "engine", "tasks", "size", "VRAM", "licence", "installed")
    for row in rows:
        table.add_row(
            row["id"], row["engine"], ", ".join(row["tasks"]), f"{row['size_gb']:g} GB", f"{row['vram_gb']:g} GB",
            row["licence"], "[green]yes[/]" if row["installed"] else "[red]no[/]",
        )  # fmt: skip
    console.print(table)
    for row in rows:
        found_at = row["path"] if row["installed"] else f"fetch on a connected machine: {row['fetch']}"
        console.print(f"{row['id']}: {found_at}", highlight=False, markup=False)
    console.print(
        f"Looked in: CADENZA_MODELS_DIR={where['models_dir']}, Hugging Face cache {where['hf_cache']}",
        highlight=False,
        markup=False,
    )


@app.command("check")
def check(
    model: Annotated[str, typer.Argument(help="A model id or a saved model directory")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Find the model, read its config and report what it is; never downloads."""
    import json

    from cadenza.engines.devices import weights_bytes
    from cadenza.models.resolve import config_file, resolve

    with domain_errors(as_json):
        found = resolve(model)
    config = json.loads(config_file(found.path).read_text())
    report = {
        "id": found.id,
        "path": str(found.path),
        "revision": found.revision,
        "source": found.source,
        "architectures": config.get("architectures") or [config.get("_class_name")],
        "model_type": config.get("model_type"),
        "weights_mb": round(weights_bytes(found.path) / 2**20, 1),
    }
    if as_json:
        emit_json(report)
        return
    for key, value in report.items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False)


def _hf_cache() -> str:
    import os
    from pathlib import Path

    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return os.environ.get("HF_HUB_CACHE", str(home / "hub"))
