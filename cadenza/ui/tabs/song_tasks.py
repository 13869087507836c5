"""Tabs whose input is a song: Cover, Extend, Edit, Stems and Master (an upload or a previous result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from cadenza.jobs.service import JobService
from cadenza.ui.forms import advanced_accordion, engine_picker, resolve_source, source_picker
from cadenza.ui.panel import PanelView


@dataclass
class SongTask:
    """A task on a song: its title, what it does, and its own fields as (request key, component factory)."""

    task: str
    title: str
    blurb: str
    fields: list[tuple[str, Any]] = field(default_factory=list)


def _prompt(placeholder: str) -> Any:
    return lambda task: gr.Textbox(label="Prompt", placeholder=placeholder, elem_id=f"cz-{task}-prompt")


SONG_TASKS = [
    SongTask(
        "cover",
        "Cover",
        "Re-arrange a song's melody and harmony in another style.",
        [
            ("prompt", _prompt("bossa nova, nylon guitar")),
            ("strength", lambda t: gr.Slider(0, 1, value=1, step=0.05, label="Strength", elem_id=f"cz-{t}-strength")),
        ],
    ),
    SongTask(
        "extend",
        "Extend",
        "Continue a song: new sections, the ending moved to the new end.",
        [
            (
                "seconds",
                lambda t: gr.Slider(2, 300, value=20, step=1, label="Seconds to add", elem_id=f"cz-{t}-seconds"),
            ),
            ("prompt", _prompt("optional: what the new part should be")),
        ],
    ),
    SongTask(
        "edit",
        "Edit",
        "Repaint a time range; it snaps to bar lines and everything outside it stays as it was.",
        [
            ("start", lambda t: gr.Number(label="Start (s)", value=8, minimum=0, elem_id=f"cz-{t}-start")),
            ("end", lambda t: gr.Number(label="End (s)", value=16, minimum=0, elem_id=f"cz-{t}-end")),
            ("prompt", _prompt("optional: what the new bars should be")),
        ],
    ),
    SongTask("stems", "Stems", "Split a song into stems that sum to it."),
    SongTask(
        "master",
        "Master",
        "Loudness to a target with true-peak limiting.",
        [
            (
                "lufs",
                lambda t: gr.Slider(-30, -6, value=-14, step=0.5, label="Loudness (LUFS)", elem_id=f"cz-{t}-lufs"),
            ),
            (
                "true_peak",
                lambda t: gr.Slider(-6, 0, value=-1, step=0.1, label="True peak (dBTP)", elem_id=f"cz-{t}-peak"),
            ),
        ],
    ),
]


class SongTaskTab:
    def __init__(self, spec: SongTask, service: JobService) -> None:
        self.spec, self.service = spec, service
        task = spec.task
        with gr.Tab(spec.title, id=task, elem_id=f"cz-tab-{task}") as self.tab:
            gr.Markdown(spec.blurb, elem_classes="cz-note")
            self.upload, self.previous = source_picker(task)
            self.controls = {key: make(task) for key, make in spec.fields}
            self.seed = gr.Number(
                label="Seed (-1: a new one each run)", value=-1, minimum=-1, precision=0, elem_id=f"cz-{task}-seed"
            )
            self.engine = engine_picker(task)
            self.advanced = advanced_accordion(task, self.engine, service=service)
            self.run = gr.Button(spec.title, variant="primary", elem_id=f"cz-{task}-run")
            self.error = gr.HTML("", elem_classes="cz-error", elem_id=f"cz-{task}-error")

    def wire(self, view: PanelView) -> None:
        self.view = view
        keys = list(self.controls)
        inputs = [self.upload, self.previous, self.seed, self.engine, self.advanced, *self.controls.values()]

        def build(upload: str | None, previous: str | None, seed: float | None, engine: str, advanced, *values):
            fields = dict(zip(keys, values, strict=True))
            source = resolve_source(self.service, upload, previous)
            seed_field = {} if seed is None or seed < 0 else {"seed": int(seed)}
            request = {"source": source, **fields, **seed_field, "advanced": advanced}
            return [{"task": self.spec.task, "engine": engine, "input": request}]

        def run(*values: Any):
            yield from self.view.submit(lambda: build(*values), self.error)

        self.run.click(run, inputs, [*self.view.panel.outputs, self.error])

    def fill(self, request: dict[str, Any]) -> dict[gr.components.Component, Any]:
        update: dict[gr.components.Component, Any] = {
            control: request[key] for key, control in self.controls.items() if key in request
        }
        update[self.seed] = request.get("seed")
        update[self.upload] = None
        source = request.get("source")
        if source:
            update[self.previous] = gr.update(choices=[(source, source)], value=source)
        return update
