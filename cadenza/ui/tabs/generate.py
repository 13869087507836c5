"""Generate: a prompt and a few essentials up front; lyrics, style and variations below."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import gradio as gr

from cadenza.errors import CadenzaError
from cadenza.jobs.service import JobService
from cadenza.tasks import AUDIO_FORMATS, MAX_SECONDS, MIN_SECONDS, TIME_SIGNATURES
from cadenza.ui.forms import advanced_accordion, engine_picker, number_or_none
from cadenza.ui.panel import PanelView, artifact_path, error_html, wait_until_finished

LYRICS_WAIT_SECONDS = 60


class GenerateTab:
    def __init__(self, service: JobService) -> None:
        self.service = service
        with gr.Tab("Generate", id="generate", elem_id="cz-tab-generate") as self.tab:
            self.prompt = gr.Textbox(
                label="Prompt",
                placeholder="melancholic lofi hip hop, rainy night, warm rhodes and vinyl crackle",
                lines=2,
                elem_id="cz-generate-prompt",
            )
            with gr.Row(equal_height=True):
                self.duration = gr.Slider(
                    MIN_SECONDS, MAX_SECONDS, value=30, step=1, label="Duration (s)", elem_id="cz-generate-duration"
                )
                with gr.Column(min_width=160):
                    self.seed = gr.Number(label="Seed", value=None, precision=0, elem_id="cz-generate-seed")
                    self.lock = gr.Checkbox(label="Lock seed", value=False, elem_id="cz-generate-lock")
            with gr.Accordion("Lyrics", open=False, elem_id="cz-generate-lyrics-box"):
                self.lyrics = gr.Textbox(
                    label="Lyrics", lines=8, placeholder="[Verse 1]\n...\n[Chorus]\n...", elem_id="cz-generate-lyrics"
                )
                self.write = gr.Button("Write lyrics from the prompt", size="sm", elem_id="cz-generate-write")
                self.lyrics_error = gr.HTML("", elem_classes="cz-error")
            with gr.Accordion("Style", open=False, elem_id="cz-generate-style"):
                with gr.Row():
                    self.genre = gr.Textbox(label="Genre", placeholder="from the prompt", elem_id="cz-generate-genre")
                    self.bpm = gr.Number(label="BPM (0: from the prompt)", value=0, elem_id="cz-generate-bpm")
                with gr.Row():
                    self.key = gr.Textbox(label="Key", placeholder="e.g. A minor", elem_id="cz-generate-key")
                    self.meter = gr.Dropdown(
                        ["", *TIME_SIGNATURES], value="", label="Time signature", elem_id="cz-generate-meter"
                    )
                with gr.Row():
                    self.variations = gr.Slider(1, 4, value=1, step=1, label="Variations", elem_id="cz-generate-n")
                    self.format = gr.Dropdown(list(AUDIO_FORMATS), value="wav", label="Format")
            self.engine = engine_picker("generate")
            self.advanced = advanced_accordion("generate", self.engine, service=service)
            self.run = gr.Button("Generate", variant="primary", elem_id="cz-generate-run")
            self.error = gr.HTML("", elem_classes="cz-error", elem_id="cz-generate-error")

    @property
    def form(self) -> list[gr.components.Component]:
        return [
            self.prompt, self.lyrics, self.duration, self.seed, self.lock, self.genre,
            self.bpm, self.key, self.meter, self.variations, self.format, self.engine,
        ]  # fmt: skip

    def wire(self, view: PanelView) -> None:
        self.view = view
        view, panel = self.view, self.view.panel
        inputs = [*self.form, self.advanced]

        def requests(*values: Any) -> list[dict[str, Any]]:
            prompt, lyrics, duration, seed, lock, genre, bpm, key, meter, variations, fmt, engine, advanced = values
            first = int(seed) if lock and seed is not None else secrets.randbelow(2**31)
            fields = {
                "prompt": prompt,
                "duration": duration,
                "lyrics": lyrics or None,
                "genre": genre or None,
                "bpm": number_or_none(bpm),
                "key": key or None,
                "time_signature": meter or None,
                "format": fmt,
                "advanced": advanced,
            }
            return [
                {"task": "generate", "engine": engine, "input": {**fields, "seed": first + n}}
                for n in range(int(variations))
            ]

        def run(*values: Any):
            chosen = requests(*values)
            yield {self.seed: chosen[0]["input"]["seed"]}  # the seed used, shown so it can be locked
            yield from view.submit(lambda: chosen, self.error)

        self.run.click(run, inputs, [*panel.outputs, self.error, self.seed])
        self.write.click(self.write_lyrics, [self.prompt], [self.lyrics, self.lyrics_error])

    def write_lyrics(self, prompt: str):
        """Run the lyrics task on the prompt and fill the box when it is done."""
        try:
            job = self.service.submit(task="lyrics", input={"theme": prompt or "a song"})
        except CadenzaError as error:
            yield {self.lyrics_error: error_html(error)}
            return
        yield {self.lyrics_error: '<p class="cz-note">Writing…</p>'}
        job = wait_until_finished(self.service, job.id, LYRICS_WAIT_SECONDS)
        words = artifact_path(self.service, job, "lyrics")
        if job.status != "succeeded" or words is None:
            yield {self.lyrics_error: error_html(job.error_message or f"the lyrics job is {job.status}")}
            return
        yield {self.lyrics: Path(words).read_text(), self.lyrics_error: ""}

    def fill(self, request: dict[str, Any]) -> dict[gr.components.Component, Any]:
        """The form set to a recipe's request, seed locked so the same song comes back."""
        return {
            self.prompt: request.get("prompt", ""),
            self.lyrics: request.get("lyrics") or "",
            self.duration: request.get("duration", 30),
            self.seed: request.get("seed"),
            self.lock: True,
            self.genre: request.get("genre") or "",
            self.bpm: request.get("bpm"),
            self.key: request.get("key") or "",
            self.meter: request.get("time_signature") or "",
            self.format: request.get("format", "wav"),
        }
