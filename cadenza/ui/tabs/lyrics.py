"""Lyrics: tagged sections written from a theme, shown in the panel and ready for Generate."""

from __future__ import annotations

from typing import Any

import gradio as gr

from cadenza.jobs.service import JobService
from cadenza.tasks import LYRIC_SECTIONS
from cadenza.ui.forms import advanced_accordion, engine_picker
from cadenza.ui.panel import PanelView

DEFAULT_STRUCTURE = "verse,chorus,verse,chorus,bridge,chorus"


class LyricsTab:
    def __init__(self, service: JobService) -> None:
        self.service = service
        with gr.Tab("Lyrics", id="lyrics", elem_id="cz-tab-lyrics") as self.tab:
            self.theme = gr.Textbox(label="Theme", placeholder="a rainy night in Lisbon", elem_id="cz-lyrics-theme")
            self.structure = gr.Textbox(
                label="Structure",
                value=DEFAULT_STRUCTURE,
                info=f"Comma-separated sections: {', '.join(LYRIC_SECTIONS)}",
                elem_id="cz-lyrics-structure",
            )
            self.language = gr.Textbox(label="Language", value="en", max_lines=1)
            self.seed = gr.Number(label="Seed (-1: a new one each run)", value=-1, minimum=-1, precision=0)
            self.engine = engine_picker("lyrics")
            self.advanced = advanced_accordion("lyrics", self.engine)
            self.run = gr.Button("Write lyrics", variant="primary", elem_id="cz-lyrics-run")
            self.error = gr.HTML("", elem_classes="cz-error", elem_id="cz-lyrics-error")

    def wire(self, view: PanelView) -> None:
        self.view = view

        def build(theme: str, structure: str, language: str, seed: float | None, engine: str, advanced):
            fields = {"theme": theme, "structure": structure, "language": language, "advanced": advanced}
            if seed is not None and seed >= 0:
                fields["seed"] = int(seed)
            return [{"task": "lyrics", "engine": engine, "input": fields}]

        def run(*values: Any):
            yield from self.view.submit(lambda: build(*values), self.error)

        inputs = [self.theme, self.structure, self.language, self.seed, self.engine, self.advanced]
        self.run.click(run, inputs, [*self.view.panel.outputs, self.error])

    def fill(self, request: dict[str, Any]) -> dict[gr.components.Component, Any]:
        structure = request.get("structure") or DEFAULT_STRUCTURE
        return {
            self.theme: request.get("theme", ""),
            self.structure: ",".join(structure) if isinstance(structure, list) else structure,
            self.language: request.get("language", "en"),
            self.seed: request.get("seed"),
        }
