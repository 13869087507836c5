"""The result panel every tab shares: progress while jobs run, then the player, recipe and downloads.

Handlers never block on work: they submit to the job service and then poll it, yielding updates, so
the browser sees queue position and progress while the worker renders.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from cadenza.errors import CadenzaError
from cadenza.jobs.links import file_url
from cadenza.jobs.models import FINISHED, Artifact, Job
from cadenza.jobs.service import JobService
from cadenza.storage import storage_for

POLL_SECONDS = 0.4
DOWNLOAD_ROLES = ("mix", "video", "poster", "midi", "lyrics", "lrc", "recipe", "ardour", "reaper", "stems-zip")
NO_VIDEO = '<div class="cz-video-empty"></div>'


@dataclass
class Panel:
    """The components of the result panel; `current` holds the ids of the jobs on show."""

    current: gr.State
    shown: gr.State
    status: gr.HTML
    cancel: gr.Button
    takes: gr.Radio
    player: gr.Audio
    video: gr.HTML
    text: gr.Textbox
    recipe: gr.JSON
    reuse: gr.Button
    downloads: gr.File
    exports: list[gr.Button]
    export_error: gr.HTML
    song_actions: gr.Row  # "Make a video" and the exports: shown for songs only
    make_video: gr.Button

    @property
    def outputs(self) -> list[gr.components.Component]:
        """Everything a handler may update; handlers yield dicts keyed by these components."""
        parts = [self.current, self.shown, self.status, self.cancel, self.takes, self.player, self.video, self.text]
        return [*parts, self.recipe, self.reuse, self.downloads, self.export_error, self.song_actions]


def build_panel() -> Panel:
    with gr.Column(elem_classes="cz-panel"):
        gr.Markdown("### Result", elem_classes="cz-panel-title")
        current = gr.State([])
        shown = gr.State(None)
        status = gr.HTML('<p class="cz-idle">Nothing running. Submit something from a tab.</p>', elem_id="cz-status")
        cancel = gr.Button("Cancel", variant="stop", visible=False, elem_id="cz-cancel", size="sm")
        takes = gr.Radio(label="Takes", choices=[], visible=False, elem_id="cz-takes")
        player = gr.Audio(label="Player", type="filepath", interactive=False, elem_id="cz-player")
        video = gr.HTML(NO_VIDEO, visible=False, elem_id="cz-video-player")
        text = gr.Textbox(label="Lyrics", visible=False, lines=10, interactive=False, elem_id="cz-text")
        reuse = gr.Button("Use these settings", visible=False, elem_id="cz-reuse", size="sm")
        downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="cz-downloads")
        with gr.Row(elem_classes="cz-exports", visible=False) as song_actions:
            make_video = gr.Button("Make a video", size="sm", variant="secondary", elem_id="cz-make-video")
            exports = [
                gr.Button("Stems zip", size="sm", elem_id="cz-export-stems-zip"),
                gr.Button("Ardour session", size="sm", elem_id="cz-export-ardour"),
                gr.Button("REAPER project", size="sm", elem_id="cz-export-reaper"),
            ]
        export_error = gr.HTML("", elem_classes="cz-error")
        with gr.Accordion("Recipe", open=False):
            recipe = gr.JSON(label="Recipe", elem_id="cz-recipe")
    return Panel(
        current, shown, status, cancel, takes, player, video, text, recipe, reuse, downloads, exports,
        export_error, song_actions, make_video,
    )  # fmt: skip


def error_html(error: CadenzaError | str) -> str:
    message = error.message if isinstance(error, CadenzaError) else error
    return f'<p class="cz-error-text" role="alert">{html.escape(message)}</p>'


def queue_positions(service: JobService) -> dict[str, int]:
    return {job_id: index for index, job_id in enumerate(service.store.queued_ids(), start=1)}


def status_html(jobs: list[Job], positions: dict[str, int], origins: dict[str, str] | None = None) -> str:
    """One row per job: task, seed, state and a progress bar; `origins` names the job each was made from."""
    rows = []
    for job in jobs:
        percent = 100 if job.status == "succeeded" else round(job.progress * 100)
        if job.status == "queued":
            detail = f"queued, position {positions.get(job.id, '?')}"
        elif job.status == "running":
            detail = f"{job.stage} · {percent}%"
        elif job.status == "succeeded":
            detail = "done" + _snapped_range(job)
        else:
            detail = f"{job.status}: {job.error_message or job.stage}"
        seed = job.request.get("seed")
        origin = (origins or {}).get(job.id)
        detail += f" · from {origin}" if origin else ""
        rows.append(
            f'<div class="cz-job" data-status="{job.status}" data-job="{job.id}">'
            f'<div class="cz-job-head"><b>{html.escape(job.task)}</b> · seed {seed} · '
            f'<span class="cz-detail">{html.escape(detail)}</span></div>'
            f'<div class="cz-bar"><span style="width:{percent}%"></span></div></div>'
        )
    return "".join(rows)


def _snapped_range(job: Job) -> str:
    operations = (job.recipe or {}).get("operations") or []
    if job.task != "edit" or not operations or "start_s" not in operations[-1]:
        return ""
    edit = operations[-1]
    return f" · repainted {edit['start_s']:.2f}–{edit['end_s']:.2f} s (snapped to bar lines)"


def wait_until_finished(service: JobService, job_id: str, timeout: float) -> Job:
    """Poll a short job (lyrics, an export) until it ends or `timeout` seconds pass; returns its last state."""
    deadline = time.monotonic() + timeout
    while (job := service.get(job_id)).status not in FINISHED and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    return job


def chain(service: JobService, job: Job, depth: int = 4) -> str:
    """The jobs `job` was made from, nearest first ("generate 1a2b3c4d ← lyrics 5e6f7a8b"); "" if none."""
    links, parent_id = [], job.parent_id
    while parent_id and len(links) < depth:
        try:
            parent = service.get(parent_id)
        except CadenzaError:  # deleted since
            break
        links.append(f"{parent.task} {parent.id[:8]}")
        parent_id = parent.parent_id
    return " ← ".join(links)


def video_html(service: JobService, job: Job) -> str:
    """A <video> element streaming the job's MP4 from the files route, which answers Range requests so the
    browser can seek; the poster frame shows until it plays."""
    video = next((a for a in job.artifacts if a.role == "video"), None)
    if video is None:
        return NO_VIDEO
    poster = next((a for a in job.artifacts if a.role == "poster"), None)
    poster_attr = f' poster="{html.escape(file_url(service.settings, poster.id))}"' if poster else ""
    source = html.escape(file_url(service.settings, video.id))
    return (
        f'<video id="cz-video" class="cz-video" data-job="{job.id}" controls playsinline preload="metadata"'
        f'{poster_attr} src="{source}"></video>'
    )


def artifact_path(service: JobService, job: Job, role: str) -> str | None:
    for artifact in job.artifacts:
        if artifact.role == role:
            return stored_path(service, artifact)
    return None


def stored_path(service: JobService, artifact: Artifact) -> str:
    """A file on this host with the artifact's bytes (Gradio plays and offers files by path): the stored
    file itself, or this host's copy of an object in S3 storage."""
    storage = storage_for(service.settings)
    return str(storage.local_path(artifact.path) or storage.fetch(artifact.path))


class PanelView:
    """Turns jobs into panel updates; one per studio."""

    def __init__(self, service: JobService, panel: Panel) -> None:
        self.service, self.panel = service, panel

    def downloads(self, job: Job) -> list[str]:
        """The files worth a download button: the song's own, then any extra takes an engine made at once."""
        own = [path for role in DOWNLOAD_ROLES if (path := artifact_path(self.service, job, role))]
        extra = [a for a in job.artifacts if a.role.startswith("take:") or a.role == "metadata"]
        return own + [stored_path(self.service, artifact) for artifact in extra]

    def finished(self, job: Job) -> dict[gr.components.Component, Any]:
        p = self.panel
        lyrics = artifact_path(self.service, job, "lyrics")
        files = self.downloads(job)
        mix = artifact_path(self.service, job, "mix")
        video = any(artifact.role == "video" for artifact in job.artifacts)
        return {
            p.shown: job.id,
            p.player: gr.update(value=mix, visible=mix is not None or (lyrics is None and not video)),
            p.video: gr.update(value=video_html(self.service, job), visible=video),
            p.song_actions: gr.update(visible=mix is not None),
            p.text: gr.update(value=Path(lyrics).read_text() if lyrics else "", visible=lyrics is not None),
            p.recipe: job.recipe or {"task": job.task, "engine": job.engine, "request": job.request},
            p.reuse: gr.update(visible=True),
            p.downloads: files or None,
        }

    def follow(self, job_ids: list[str]) -> Iterator[dict[gr.components.Component, Any]]:
        """Poll the jobs until all are finished, yielding progress; then show the first that succeeded."""
        p = self.panel
        first = True
        origins = {job_id: chain(self.service, self.service.get(job_id)) for job_id in job_ids}
        while True:
            jobs = [self.service.get(job_id) for job_id in job_ids]
            running = [job for job in jobs if job.status not in FINISHED]
            update: dict[gr.components.Component, Any] = {
                p.status: status_html(jobs, queue_positions(self.service), origins),
                p.cancel: gr.update(visible=bool(running)),
            }
            if first:
                update.update(
                    {
                        p.current: job_ids,
                        p.player: None,
                        p.video: gr.update(value=NO_VIDEO, visible=False),
                        p.downloads: None,
                        p.reuse: gr.update(visible=False),
                        p.song_actions: gr.update(visible=False),
                    }
                )
                first = False
            if not running:
                done = [job for job in jobs if job.status == "succeeded"]
                if len(jobs) > 1:
                    choices = [(f"seed {job.request.get('seed')}", job.id) for job in done]
                    update[p.takes] = gr.update(choices=choices, value=done[0].id if done else None, visible=True)
                else:
                    update[p.takes] = gr.update(visible=False)
                if done:
                    update.update(self.finished(done[0]))
                yield update
                return
            yield update
            time.sleep(POLL_SECONDS)

    def submit(self, build: Callable[[], list[dict[str, Any]]], error_box: gr.HTML) -> Iterator[dict]:
        """Build and submit the requests, report a refusal next to the form, then follow the jobs."""
        try:
            job_ids = [self.service.submit(**request).id for request in build()]
        except CadenzaError as error:
            yield {error_box: error_html(error)}
            return
        yield {error_box: ""}
        yield from self.follow(job_ids)

    def cancel(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            job = self.service.get(job_id)
            if job.status not in FINISHED:
                self.service.cancel(job_id)

    def show(self, job_id: str | None) -> dict[gr.components.Component, Any]:
        if not job_id:
            return {self.panel.status: gr.update()}  # Gradio reads an empty dict as one value
        try:
            job = self.service.get(job_id)
        except CadenzaError as error:
            return {self.panel.status: error_html(error)}
        update = {
            self.panel.status: status_html([job], {}, {job.id: chain(self.service, job)}),
            self.panel.current: [job.id],
        }
        if job.status == "succeeded":
            update.update(self.finished(job))
        return update


def recipe_request(recipe: dict[str, Any] | None) -> dict[str, Any]:
    """The request a recipe was made from (with its resolved seed and parameters), as the forms want it."""
    return dict((recipe or {}).get("request") or {})
