"""`cadenza workflows`: the ComfyUI workflows the comfyui engine runs (shipped ones and your own)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cadenza.cli.common import console, domain_errors, emit_json, fail

if TYPE_CHECKING:
    from cadenza.engines.comfyui.library import Library
    from cadenza.engines.comfyui.workflows import Workflow

app = typer.Typer(
    help="ComfyUI workflows for the comfyui engine: add your own (API format), list, show, check, remove.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _library() -> Library:
    from cadenza.config import load_settings
    from cadenza.engines.comfyui.library import Library

    return Library(load_settings().workflows_dir)


def _summary(workflow: Workflow) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "task": workflow.task,
        "origin": workflow.origin,
        "sha256": workflow.sha256,
        "nodes": len(workflow.graph),
        "map": {name: [f"{n}.{i}" for n, i in targets] for name, targets in workflow.parameters.items()},
        "explicit": sorted(workflow.explicit),
    }


def _print_mapping(workflow: Workflow) -> None:
    for row in workflow.mapping_text():
        console.print(f"  {row}", highlight=False)


@app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="A workflow exported with Workflow > Export (API)", dir_okay=False)],
    task: Annotated[str, typer.Option("--task", help="t2v, i2v, a2v, lipsync, keyframe, style or generate")],
    name: Annotated[str | None, typer.Option(help="Its name in Cadenza; default: the file's name")] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="NAME=NODE_ID.INPUT, e.g. prompt=240.text (repeatable); overrides the class rules"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Store a workflow for a task; parameters are found by node class and shown for confirmation."""
    with domain_errors(as_json):
        if not file.is_file():
            fail(f"{file} is not a file", as_json=as_json)
        workflow = _library().add(file, task, name, mapping or [])
    if as_json:
        emit_json(_summary(workflow))
        return
    console.print(
        f"[bold green]added[/] {workflow.name} ({workflow.task}, {len(workflow.graph)} nodes)", highlight=False
    )
    console.print("Cadenza will set these inputs; pin or fix any with --map NAME=NODE_ID.INPUT:", highlight=False)
    _print_mapping(workflow)
    if "prompt" not in workflow.parameters and task != "style":
        console.print("[yellow]no prompt input found[/]: add --map prompt=NODE_ID.text", highlight=False)


@app.command("list")
def list_workflows(as_json: JsonOption = False) -> None:
    """Every workflow: the shipped ones (cadenza-<task>) and yours."""
    with domain_errors(as_json):
        workflows = _library().list()
    if as_json:
        emit_json({"workflows": [_summary(w) for w in workflows]})
        return
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("name", "task", "nodes", "sha256", "origin"):
        table.add_column(column, overflow="fold")
    for workflow in workflows:
        table.add_row(workflow.name, workflow.task, str(len(workflow.graph)), workflow.sha256[:12], workflow.origin)
    console.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A name from `cadenza workflows list`")], as_json: JsonOption = False
) -> None:
    """A workflow's nodes and where Cadenza's parameters go in it."""
    with domain_errors(as_json):
        workflow = _library().get(name)
    if as_json:
        emit_json(_summary(workflow) | {"workflow": workflow.graph})
        return
    console.print(f"[bold]{workflow.name}[/] for {workflow.task}; sha256 {workflow.sha256}", highlight=False)
    for node_id, node in workflow.graph.items():
        title = (node.get("_meta") or {}).get("title", "")
        console.print(f"  {node_id:>5}  {node['class_type']}{f'  ({title})' if title else ''}", highlight=False)
    console.print("parameters:", highlight=False)
    _print_mapping(workflow)


@app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="A name from `cadenza workflows list`")], as_json: JsonOption = False
) -> None:
    """Check a workflow against the server's /object_info: missing node classes and model files."""
    from cadenza.engines.comfyui.engine import ComfyUIEngine
    from cadenza.engines.comfyui.workflows import check as check_graph

    engine = ComfyUIEngine()
    with domain_errors(as_json):
        workflow = _library().get(name)
        if not engine.url:
            fail(
                "set CADENZA_COMFYUI_URL to the ComfyUI server to check against",
                as_json=as_json,
                category="unavailable",
            )
        with engine.client() as client:
            problems = check_graph(workflow.graph, client.object_info())
    if as_json:
        emit_json({"name": workflow.name, "server": engine.url, "ok": not problems, "problems": problems})
    elif problems:
        console.print(f"[bold red]{workflow.name} cannot run on {engine.url}:[/]", highlight=False)
        for problem in problems:
            console.print(f"  - {problem}", highlight=False, soft_wrap=True)
    else:
        console.print(f"[bold green]ok[/] {workflow.name}: every node class and model file is on {engine.url}")
    if problems:
        raise typer.Exit(3)


@app.command("rm")
def remove(name: Annotated[str, typer.Argument(help="One of your workflows")], as_json: JsonOption = False) -> None:
    """Remove one of your workflows (the shipped ones stay)."""
    with domain_errors(as_json):
        _library().remove(name)
    if as_json:
        emit_json({"removed": name})
    else:
        console.print(f"removed {name}", highlight=False)
