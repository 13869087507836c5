"""The studio's adapters: an Adapters tab (upload, list, delete) and, in the Advanced area of a neural
engine, one weight slider per stored adapter that fits the chosen engine (0: not applied)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from cadenza.engines import registry
from cadenza.errors import CadenzaError
from cadenza.jobs.service import JobService
from cadenza.loras.choices import engine_families
from cadenza.loras.store import LoraStore
from cadenza.ui.panel import error_html

COLUMNS = ["Name", "Engine", "Base model", "Rank", "Triggers", "sha256"]
ENGINE_CHOICES = [("from the file", ""), ("musicgen", "musicgen"), ("stable_audio", "stable_audio"), ("ltx", "ltx")]
KIND_CHOICES = [("from the file", ""), ("LoRA", "lora"), ("IC-LoRA (follows a control video)", "ic-lora")]


def _base(record: Any) -> str:
    """The base model, and for an IC-LoRA the control video it follows."""
    if record.kind != "ic-lora":
        return record.base_model or ""
    return f"{record.base_model or 'ltx-2'}, IC-LoRA ({record.control or 'control'} video)"


def adapter_sliders(service: JobService | None, engine_name: str, values: gr.State) -> None:
    """Inside the Advanced accordion's render: a slider per adapter that fits `engine_name`."""
    if service is None:
        return
    try:
        families = engine_families(registry.load(engine_name))
    except CadenzaError:
        return
    if not families:
        return
    records = [r for r in LoraStore(service.settings.home).list() if r.family in families]
    if not records:
        gr.Markdown("Adapters (LoRA): none stored for this engine yet (Adapters tab).", elem_classes="cz-note")
        return
    gr.Markdown("Adapters (LoRA): 0 leaves one out, 1 applies it as trained.", elem_classes="cz-note")
    for record in records:
        hint = ", ".join(filter(None, [_base(record), f"rank {record.rank}", " ".join(record.triggers)]))
        slider = gr.Slider(0, 2, value=0, step=0.05, label=record.name, info=hint, elem_id=f"cz-lora-{record.name}")

        def remember(weight: float, current: dict[str, Any], name: str = record.name) -> dict[str, Any]:
            chosen = [c for c in current.get("loras", []) if c["name"] != name]
            if weight:
                chosen.append({"name": name, "weight": float(weight)})
            changed = {key: value for key, value in current.items() if key != "loras"}
            return changed | ({"loras": chosen} if chosen else {})

        slider.change(remember, [slider, values], values)


class LorasTab:
    def __init__(self, service: JobService) -> None:
        self.store = LoraStore(service.settings.home)
        with gr.Tab("Adapters", id="loras", elem_id="cz-tab-loras") as self.tab:
            gr.Markdown(
                "LoRA adapters (.safetensors) for MusicGen, Stable Audio and LTX: added once, then weighted in a "
                "neural engine's Advanced area.",
                elem_classes="cz-note",
            )
            self.file = gr.File(label="Adapter file", file_types=[".safetensors"], elem_id="cz-loras-file")
            with gr.Row():
                self.name = gr.Textbox(label="Name", placeholder="from the file name", elem_id="cz-loras-name")
                self.engine = gr.Dropdown(ENGINE_CHOICES, value="", label="Engine", elem_id="cz-loras-engine")
                self.trigger = gr.Textbox(label="Trigger words", placeholder="optional", elem_id="cz-loras-trigger")
            with gr.Row():
                self.kind = gr.Dropdown(KIND_CHOICES, value="", label="Kind", elem_id="cz-loras-kind")
                self.control = gr.Textbox(
                    label="IC-LoRA control", placeholder="depth, pose, canny ... (optional)", elem_id="cz-loras-control"
                )
            self.add = gr.Button("Add adapter", variant="primary", elem_id="cz-loras-add")
            self.table = gr.Dataframe(headers=COLUMNS, value=self.rows(), interactive=False, elem_id="cz-loras-table")
            with gr.Row():
                self.chosen = gr.Dropdown(self.names(), label="Adapter", elem_id="cz-loras-chosen")
                self.delete = gr.Button("Delete", variant="stop", size="sm", elem_id="cz-loras-delete")
            self.error = gr.HTML("", elem_classes="cz-error", elem_id="cz-loras-error")

    def rows(self) -> list[list[Any]]:
        return [
            [r.name, r.family, _base(r), str(r.rank), ", ".join(r.triggers), r.sha256[:12]] for r in self.store.list()
        ]

    def names(self) -> list[str]:
        return [r.name for r in self.store.list()]

    def refreshed(self, message: str = "") -> dict[Any, Any]:
        return {self.table: self.rows(), self.chosen: gr.update(choices=self.names(), value=None), self.error: message}

    def wire(self, _view: object = None) -> None:
        outputs = [self.table, self.chosen, self.error, self.file]

        def add(file: str | None, name: str, engine: str, trigger: str, kind: str, control: str) -> dict[Any, Any]:
            if not file:
                return {self.error: error_html("choose a .safetensors adapter file first")}
            try:
                self.store.add(Path(file), name=name or None, engine=engine or None, trigger=trigger or None,
                               kind=kind or None, control=control.strip() or None)  # fmt: skip
            except CadenzaError as error:  # a refused file is of no further use: clear it for the next one
                return {self.error: error_html(error), self.file: None}
            return self.refreshed() | {self.file: None}

        def delete(name: str | None) -> dict[Any, Any]:
            if not name:
                return {self.error: error_html("pick an adapter to delete")}
            try:
                self.store.remove(name)
            except CadenzaError as error:
                return {self.error: error_html(error)}
            return self.refreshed()

        self.add.click(add, [self.file, self.name, self.engine, self.trigger, self.kind, self.control], outputs)
        self.delete.click(delete, self.chosen, outputs)
        self.tab.select(lambda: self.refreshed(), None, outputs)
