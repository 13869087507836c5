"""Video: six modes (text, image, music, lip sync, keyframes, restyle) in one area.

A sidebar of modes on a desktop, a drawer on a phone; the header names the mode. One form serves every
mode: the file inputs a mode takes are shown, the others hidden, and the engine picker and Advanced
accordion follow the mode. The estimate is the engine's own, asked through the job service.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from cadenza.errors import CadenzaError
from cadenza.jobs.service import JobService
from cadenza.tasks import VIDEO_PRESETS
from cadenza.ui.forms import advanced_accordion, engine_choices, previous_results, resolve_source
from cadenza.ui.panel import PanelView


@dataclass(frozen=True)
class VideoMode:
    task: str
    title: str
    blurb: str
    files: tuple[str, ...] = ()  # the request's file fields this mode shows
    optional: tuple[str, ...] = ()  # those of them it can do without


MODES = [
    VideoMode("t2v", "Text to video", "A title or lyric video of the prompt over a moving background."),
    VideoMode(
        "i2v", "Image to video", "Camera moves over a still; on the beat when you add audio.", ("image", "audio"),
        ("audio",),
    ),
    VideoMode(
        "a2v", "Music video", "A visualizer driven by a song: its beat, spectrum and lyrics.", ("audio", "image"),
        ("image",),
    ),
    VideoMode(
        "lipsync", "Lip sync", "A face image singing or speaking the audio (needs a model engine).", ("image", "audio")
    ),
    VideoMode("keyframe", "Keyframes", "The motion from a first frame to a last frame.", ("first_frame", "last_frame")),
    VideoMode(
        "style", "Restyle", "A video redrawn in a look named by the prompt; its timing and sound kept.",
        ("video", "control"), ("control",),
    ),
]  # fmt: skip
MODES_BY_TASK = {mode.task: mode for mode in MODES}
# file field -> (label, kind of file, what to ask for in an error)
FILE_FIELDS = {
    "image": ("Image", "image", "an image"),
    "first_frame": ("First frame", "image", "an image"),
    "last_frame": ("Last frame", "image", "an image"),
    "audio": ("Audio", "audio", "an audio file"),
    "video": ("Source video", "video", "a video"),
    "control": ("Control video for an IC-LoRA (depth, pose, edges; engine ltx)", "video", "a video"),
}
DRAWER = "document.getElementById('cz-video-drawer')"
CLOSE_DRAWER = f"(...inputs) => {{ {DRAWER}?.classList.remove('cz-open'); return inputs; }}"


def header_html(task: str) -> str:
    mode = MODES_BY_TASK[task]
    return (
        '<div class="cz-video-head">'
        f'<button class="cz-drawer-toggle" id="cz-video-drawer-toggle" aria-label="Video modes" '
        f"onclick=\"{DRAWER}.classList.toggle('cz-open')\">☰ Modes</button>"
        f'<h2>Video · <span id="cz-video-current" data-mode="{task}">{mode.title}</span></h2></div>'
    )


def _upload(field: str, label: str, kind: str) -> gr.components.Component:
    elem_id = f"cz-video-{field.replace('_', '-')}"
    if kind == "image":
        return gr.Image(label=label, type="filepath", sources=["upload"], height=180, elem_id=elem_id)
    if kind == "audio":
        return gr.Audio(label=label, type="filepath", sources=["upload"], elem_id=elem_id)
    return gr.Video(label=label, sources=["upload"], height=200, elem_id=elem_id)


def _pixels(value: float | None) -> int | None:
    """Size and rate boxes use 0 for "the engine's default" (Gradio number boxes cannot be empty)."""
    return None if value in (None, "", 0) else int(value)


class VideoTab:
    tab_id = "video"

    def __init__(self, service: JobService) -> None:
        self.service = service
        first = MODES[0]
        with gr.Tab("Video", id=self.tab_id, elem_id="cz-tab-video") as self.tab:
            self.header = gr.HTML(header_html(first.task), elem_id="cz-video-header")
            with gr.Row(equal_height=False, elem_classes="cz-video-area"):
                with gr.Column(scale=0, min_width=150, elem_id="cz-video-drawer"):
                    self.mode = gr.Radio(
                        [(mode.title, mode.task) for mode in MODES],
                        value=first.task,
                        label="Mode",
                        elem_id="cz-video-mode",
                    )
                with gr.Column(scale=1, min_width=0, elem_classes="cz-video-form"):
                    self.blurb = gr.Markdown(first.blurb, elem_classes="cz-note", elem_id="cz-video-blurb")
                    self.slots: dict[str, tuple[gr.Group, gr.components.Component, gr.Dropdown]] = {}
                    for field, (label, kind, _) in FILE_FIELDS.items():
                        with gr.Group(visible=field in first.files) as group:
                            upload = _upload(field, label, kind)
                            previous = gr.Dropdown(
                                label="…or a previous result",
                                choices=[],
                                value=None,
                                elem_id=f"cz-video-{field.replace('_', '-')}-previous",
                            )
                        self.slots[field] = (group, upload, previous)
                    self.prompt = gr.Textbox(
                        label="Prompt", lines=2, placeholder="neon city at night, slow drift", elem_id="cz-video-prompt"
                    )
                    self.negative = gr.Textbox(label="Negative prompt", max_lines=1, elem_id="cz-video-negative")
                    with gr.Row():
                        self.width = gr.Number(
                            label="Width (0: engine's)", value=0, precision=0, elem_id="cz-video-width"
                        )
                        self.height = gr.Number(
                            label="Height (0: engine's)", value=0, precision=0, elem_id="cz-video-height"
                        )
                    with gr.Row():
                        self.duration = gr.Number(
                            label="Seconds (0: default or the source's)", value=0, elem_id="cz-video-duration"
                        )
                        self.fps = gr.Number(label="FPS (0: engine's)", value=0, precision=0, elem_id="cz-video-fps")
                    with gr.Row():
                        self.preset = gr.Radio(
                            list(VIDEO_PRESETS), value="balanced", label="Preset", elem_id="cz-video-preset"
                        )
                        self.seed = gr.Number(
                            label="Seed (-1: a new one)", value=-1, minimum=-1, precision=0, elem_id="cz-video-seed"
                        )
                    choices, default, notes = engine_choices(first.task)
                    self.engine = gr.Dropdown(choices=choices, value=default, label="Engine", elem_id="cz-video-engine")
                    with gr.Accordion("Engines that need set-up", open=False, elem_id="cz-video-engine-notes"):
                        self.notes = gr.Markdown(notes or "Every engine is ready.", elem_classes="cz-note")
                    self.advanced = advanced_accordion("video", self.engine, self.mode, service=service)
                    self.estimate = gr.HTML("", elem_id="cz-video-estimate")
                    self.run = gr.Button("Make the video", variant="primary", elem_id="cz-video-run")
                    self.error = gr.HTML("", elem_classes="cz-error", elem_id="cz-video-error")

    @property
    def settings(self) -> list[gr.components.Component]:
        """The form's values besides the files, in the order `request` takes them."""
        fields = [self.prompt, self.negative, self.width, self.height, self.duration, self.fps, self.preset]
        return [*fields, self.seed, self.engine, self.advanced]

    @property
    def files(self) -> list[gr.components.Component]:
        return [part for _, upload, previous in self.slots.values() for part in (upload, previous)]

    def request(self, task: str, values: list[Any], files: dict[str, str], upload: bool = True) -> dict[str, Any]:
        """The job request of a mode; with `upload`, chosen files become uploads and missing ones are refused."""
        prompt, negative, width, height, duration, fps, preset, seed, engine, advanced = values
        fields: dict[str, Any] = {
            "prompt": prompt or "",
            "negative_prompt": negative or "",
            "width": _pixels(width),
            "height": _pixels(height),
            "duration": None if duration in (None, "", 0) else float(duration),
            "fps": _pixels(fps),
            "preset": preset or "balanced",
            "advanced": advanced or {},
        }
        if seed is not None and seed >= 0:
            fields["seed"] = int(seed)
        mode = MODES_BY_TASK[task]
        for field in mode.files:
            given = files.get(field)
            if given:
                fields[field] = given
            elif upload and field not in mode.optional:
                resolve_source(self.service, None, None, field, FILE_FIELDS[field][2])
        return {"task": task, "engine": engine, "input": {k: v for k, v in fields.items() if v is not None}}

    def chosen_files(self, task: str, parts: list[Any], upload: bool) -> dict[str, str]:
        """Each shown slot's file id: a fresh upload (stored now) wins over a picked result."""
        chosen = {}
        for index, field in enumerate(self.slots):
            new, previous = parts[2 * index], parts[2 * index + 1]
            if field not in MODES_BY_TASK[task].files:
                continue
            if new and upload:
                chosen[field] = resolve_source(self.service, new, None, field)
            elif previous:
                chosen[field] = previous
        return chosen

    def split(self, values: tuple[Any, ...]) -> tuple[str, list[Any], list[Any]]:
        count = len(self.settings)
        return values[0], list(values[1 : 1 + count]), list(values[1 + count :])

    def estimate_html(self, *values: Any) -> str:
        task, settings, parts = self.split(values)
        try:
            request = self.request(task, settings, self.chosen_files(task, parts, upload=False), upload=False)
            estimate = self.service.estimate(**request)
        except CadenzaError as error:
            reason = html.escape(error.message)
            return f'<p class="cz-note cz-estimate" data-task="{task}" data-ok="0">Estimate: {reason}</p>'
        length = f" for {estimate.duration:.1f} s of video" if estimate.duration else ""
        return (
            f'<p class="cz-note cz-estimate" data-task="{task}" data-ok="1" data-seconds="{estimate.seconds:g}">'
            f"Estimate: about {estimate.seconds:.0f} s with {estimate.engine}{length}</p>"
        )

    def switch(self, task: str, *previous: str | None) -> dict[gr.components.Component, Any]:
        """Show the mode's inputs, its engines and its header."""
        mode = MODES_BY_TASK[task]
        choices, default, notes = engine_choices(task)
        update: dict[gr.components.Component, Any] = {
            self.header: header_html(task),
            self.blurb: mode.blurb,
            self.engine: gr.update(choices=choices, value=default),
            self.notes: notes or "Every engine is ready.",
        }
        for (field, (group, _, picker)), current in zip(self.slots.items(), previous, strict=True):
            results = previous_results(self.service, kind=FILE_FIELDS[field][1]) if field in mode.files else []
            keep = current if current in {job_id for _, job_id in results} else None
            update[group] = gr.update(visible=field in mode.files)
            update[picker] = gr.update(choices=results, value=keep)
        return update

    def wire(self, view: PanelView) -> None:
        self.view = view
        pickers = [picker for _, _, picker in self.slots.values()]
        switch_outputs = [self.header, self.blurb, self.engine, self.notes]
        switch_outputs += [part for group, _, picker in self.slots.values() for part in (group, picker)]
        inputs = [self.mode, *self.settings, *self.files]
        self.mode.change(self.switch, [self.mode, *pickers], switch_outputs, js=CLOSE_DRAWER).then(
            self.estimate_html, inputs, self.estimate
        )
        self.tab.select(self.switch, [self.mode, *pickers], switch_outputs).then(
            self.estimate_html, inputs, self.estimate
        )
        for control in (self.width, self.height, self.duration, self.fps, self.preset, self.engine, *pickers):
            control.change(self.estimate_html, inputs, self.estimate)

        def build(*values: Any) -> list[dict[str, Any]]:
            task, settings, parts = self.split(values)
            return [self.request(task, settings, self.chosen_files(task, parts, upload=True))]

        def run(*values: Any):
            yield from self.view.submit(lambda: build(*values), self.error)

        self.run.click(run, inputs, [*view.panel.outputs, self.error])

    def music_video(self, song_id: str, *values: Any) -> dict[str, Any]:
        """An a2v request for a song, with the Video form's settings (size, rate, preset, look)."""
        settings, parts = list(values[: len(self.settings)]), list(values[len(self.settings) :])
        image = self.chosen_files("a2v", parts, upload=True).get("image")
        request = self.request("a2v", settings, {"audio": song_id, **({"image": image} if image else {})})
        if request["engine"] not in {job_id for _, job_id in engine_choices("a2v")[0]}:
            request["engine"] = None  # the picker shows another mode's engines: let a2v's default serve it
        return request

    def fill(self, request: dict[str, Any]) -> dict[gr.components.Component, Any]:
        """The form set to a recipe's request (seed kept); switching the mode redraws the rest."""
        update: dict[gr.components.Component, Any] = {
            self.prompt: request.get("prompt", ""),
            self.negative: request.get("negative_prompt", ""),
            self.width: request.get("width") or 0,
            self.height: request.get("height") or 0,
            self.duration: request.get("duration") or 0,
            self.fps: request.get("fps") or 0,
            self.preset: request.get("preset", "balanced"),
            self.seed: request.get("seed", -1),
        }
        if request.get("task") in MODES_BY_TASK:
            update[self.mode] = request["task"]
        for field, (_, upload, picker) in self.slots.items():
            update[upload] = None
            source = request.get(field)
            update[picker] = gr.update(choices=[(source, source)], value=source) if source else None
        return update
