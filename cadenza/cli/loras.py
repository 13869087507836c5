"""`cadenza loras add|list|show|rm`: LoRA adapters kept once in the data dir, used by neural engines' jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cadenza.cli.common import console, domain_errors, emit_json

if TYPE_CHECKING:
    from cadenza.loras.store import LoraStore

app = typer.Typer(
    help="LoRA adapters: add a .safetensors file once, then apply it with --lora NAME[:WEIGHT].", no_args_is_help=True
)
Json = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _store() -> LoraStore:
    from cadenza.config import load_settings
    from cadenza.loras.store import LoraStore

    return LoraStore(load_settings().home)


@app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="A LoRA .safetensors file, or a PEFT adapter folder")],
    name: Annotated[str | None, typer.Option(help="The name jobs use; default the file name")] = None,
    engine: Annotated[
        str | None, typer.Option(help="musicgen, stable_audio or ltx, when the file cannot tell (both DiTs)")
    ] = None,
    trigger: Annotated[str | None, typer.Option(help="Trigger words, comma-separated")] = None,
    ic_lora: Annotated[
        bool | None,
        typer.Option(
            "--ic-lora/--plain",
            help="An LTX-2 IC-LoRA that follows a control video, or a plain LoRA; default: from its metadata and name",
        ),
    ] = None,
    control: Annotated[
        str | None, typer.Option(help="An IC-LoRA's control type: depth, pose, canny, union ... (implies --ic-lora)")
    ] = None,
    as_json: Json = False,
) -> None:
    """Check an adapter (header only), store it under its sha256 and record what it fits."""
    kind = None if ic_lora is None else ("ic-lora" if ic_lora else "lora")
    with domain_errors(as_json):
        record = _store().add(file, name=name, engine=engine, trigger=trigger, kind=kind, control=control)
    if as_json:
        emit_json(record.model_dump(mode="json"))
        return
    in_context = f" IC-LoRA ({record.control or 'control'} video)" if record.kind == "ic-lora" else ""
    console.print(
        f"[bold green]added[/] {record.name}: {record.family}{in_context}"
        f"{f' ({record.base_model})' if record.base_model else ''}, {record.layers} layers, rank {record.rank}, "
        f"sha256 {record.sha256[:12]}",
        highlight=False,
    )


@app.command("list")
def list_loras(
    engine: Annotated[str | None, typer.Option(help="Only adapters for this engine")] = None, as_json: Json = False
) -> None:
    """Stored adapters: name, engine (and kind: IC-LoRAs say their control), base model, rank, triggers."""
    records = _store().list(engine)
    if as_json:
        emit_json({"items": [r.model_dump(mode="json") for r in records]})
        return
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("name", "engine", "base model", "rank", "layers", "triggers", "sha256"):
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for r in records:
        engine = r.family if r.kind == "lora" else f"{r.family} ic-lora ({r.control or 'control'})"
        table.add_row(
            r.name, engine, r.base_model or "-", str(r.rank), str(r.layers), ", ".join(r.triggers), r.sha256[:12]
        )
    console.print(table if records else "no adapters yet: cadenza loras add FILE")


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="An adapter's name")], as_json: Json = False) -> None:
    """One adapter's record, with where its file is."""
    store = _store()
    with domain_errors(as_json):
        record = store.get(name)
    payload = record.model_dump(mode="json") | {"path": str(store.file(record))}
    if as_json:
        emit_json(payload)
        return
    for key, value in payload.items():
        if key != "metadata":
            console.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command("rm")
def remove(name: Annotated[str, typer.Argument(help="An adapter's name")], as_json: Json = False) -> None:
    """Forget an adapter (its file goes too unless another name holds it)."""
    with domain_errors(as_json):
        record = _store().remove(name)
    if as_json:
        emit_json({"removed": record.name, "sha256": record.sha256})
    else:
        console.print(f"removed {record.name}", highlight=False)
