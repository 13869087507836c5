"""Where workflows live: one shipped per task (next to this file) and the user's own in the data dir
(`<CADENZA_HOME>/workflows/<name>.json`, holding the task, the explicit map and the graph)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from cadenza.engines.comfyui.workflows import Graph, Target, Workflow, load_graph, make_workflow, parse_map
from cadenza.errors import InputError, NotFound

SHIPPED_DIR = Path(__file__).resolve().parent / "workflows"
TASKS = ("t2v", "i2v", "a2v", "lipsync", "keyframe", "style", "generate")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def shipped(task: str) -> Workflow:
    path = SHIPPED_DIR / f"{task}.json"
    if not path.is_file():
        raise InputError(f"Cadenza ships no ComfyUI workflow for {task!r}; tasks with one: {', '.join(TASKS)}")
    return make_workflow(f"cadenza-{task}", task, load_graph(path), "shipped")


class Library:
    """The user's workflows in `folder`, and the shipped ones beside them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def add(self, source: Path, task: str, name: str | None = None, mapping: list[str] | None = None) -> Workflow:
        """Validate `source` (API format only), find its parameters, store it under `name`."""
        if task not in TASKS:
            raise InputError(f"task {task!r} is not one the comfyui engine runs; accepted: {', '.join(TASKS)}")
        graph = load_graph(source)
        name = (name or re.sub(r"[^a-z0-9_.-]+", "-", source.stem.lower()).strip("-.") or "workflow")[:64]
        if not NAME_PATTERN.match(name) or name.startswith("cadenza-"):
            raise InputError(
                f"workflow name {name!r} must be lower-case letters, digits, '-', '_' or '.', up to 64, "
                "and not start with 'cadenza-' (the shipped ones)"
            )
        explicit = parse_map(mapping or [], graph)
        workflow = make_workflow(name, task, graph, str(source.resolve()), explicit)
        self._write(workflow)
        return workflow

    def _write(self, workflow: Workflow) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {
            "name": workflow.name,
            "task": workflow.task,
            "origin": workflow.origin,
            "map": {name: [f"{n}.{i}" for n, i in targets] for name, targets in workflow.explicit.items()},
            "workflow": workflow.graph,
        }
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".incoming-", suffix=".json")
        with os.fdopen(handle, "w") as out:
            json.dump(record, out, indent=2)
        os.replace(temporary, self._path(workflow.name))

    def get(self, name: str) -> Workflow:
        if name.startswith("cadenza-") and name.removeprefix("cadenza-") in TASKS:
            return shipped(name.removeprefix("cadenza-"))
        path = self._path(name)
        if not NAME_PATTERN.match(name) or not path.is_file():
            known = ", ".join(w.name for w in self.list()) or "none"
            raise NotFound(f"no ComfyUI workflow named {name!r}; known: {known} (add one with `cadenza workflows add`)")
        record: dict[str, Any] = json.loads(path.read_text())
        graph: Graph = record["workflow"]
        explicit: dict[str, list[Target]] = {
            key: [tuple(t.rsplit(".", 1)) for t in targets]  # type: ignore[misc]
            for key, targets in record.get("map", {}).items()
        }
        return make_workflow(record["name"], record["task"], graph, record.get("origin", str(path)), explicit)

    def list(self) -> list[Workflow]:
        workflows = [shipped(task) for task in TASKS]
        if self.folder.is_dir():
            workflows += [self.get(path.stem) for path in sorted(self.folder.glob("*.json"))]
        return workflows

    def remove(self, name: str) -> None:
        if name.startswith("cadenza-"):
            raise InputError(f"{name!r} is shipped with Cadenza and cannot be removed")
        self.get(name)
        self._path(name).unlink()

    def for_task(self, task: str, name: str | None) -> Workflow:
        """The workflow a job runs: the named one (which must be for this task) or the shipped one."""
        if name is None:
            return shipped(task)
        workflow = self.get(name)
        if workflow.task != task:
            raise InputError(f"workflow {name!r} is for {workflow.task!r}, not {task!r}")
        return workflow
