"""build_studio: the Gradio web studio; mount_studio puts it at / on the API's FastAPI app.

The studio is a face like the CLI and the API: every button submits to the one JobService, so the
browser, the command line and HTTP clients share one queue and one history.
"""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

import gradio as gr
from fastapi import FastAPI

from cadenza import __version__
from cadenza.errors import CadenzaError
from cadenza.jobs.service import JobService
from cadenza.storage import storage_for
from cadenza.tasks import VIDEO_TASKS
from cadenza.ui.forms import previous_results
from cadenza.ui.loras import LorasTab
from cadenza.ui.panel import PanelView, artifact_path, build_panel, error_html, recipe_request, wait_until_finished
from cadenza.ui.tabs.generate import GenerateTab
from cadenza.ui.tabs.history import HistoryTab
from cadenza.ui.tabs.lyrics import LyricsTab
from cadenza.ui.tabs.song_tasks import SONG_TASKS, SongTaskTab
from cadenza.ui.tabs.video import VideoTab

EXPORT_FORMATS = ("stems-zip", "ardour", "reaper")
EXPORT_WAIT_SECONDS = 120

THEME = gr.themes.Soft(
    primary_hue="violet",
    secondary_hue="amber",
    neutral_hue="slate",
    radius_size="md",
    font=["Inter", "ui-sans-serif", "system-ui", "sans-serif"],  # local fonts: the studio works offline
    font_mono=["ui-monospace", "SFMono-Regular", "monospace"],
)

CSS = """
.cz-header { display: flex; align-items: baseline; gap: .75rem; flex-wrap: wrap; }
.cz-header h1 { margin: 0; font-size: 1.6rem; letter-spacing: .02em; }
.cz-header .cz-tagline { color: var(--body-text-color-subdued); }
.cz-forms, .cz-panel { min-width: 0 !important; }
#cz-player { overflow: hidden; }
.cz-note { color: var(--body-text-color-subdued); font-size: .9rem; }
.cz-job { margin: .25rem 0 .6rem; }
.cz-job-head { font-size: .9rem; overflow-wrap: anywhere; }
.cz-bar { height: 8px; border-radius: 4px; background: var(--neutral-200); overflow: hidden; margin-top: .3rem; }
.cz-bar span { display: block; height: 100%; background: var(--color-accent); transition: width .3s ease; }
.cz-job[data-status="failed"] .cz-bar span, .cz-job[data-status="cancelled"] .cz-bar span {
  background: var(--error-text-color);
}
.cz-error-text { color: var(--error-text-color); font-weight: 600; margin: .25rem 0; }
.cz-exports { flex-wrap: wrap; }
.cz-video-head { display: flex; align-items: center; gap: .6rem; margin: .2rem 0 .4rem; }
.cz-video-head h2 { margin: 0; font-size: 1.15rem; }
.cz-drawer-toggle { display: none; border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: .3rem .7rem; background: var(--button-secondary-background-fill); color: var(--body-text-color); }
#cz-video-mode .wrap { flex-direction: column; }
#cz-video-mode label { width: 100%; }
.cz-video-form { min-width: 0 !important; }
.cz-video { width: 100%; max-height: 60vh; border-radius: 8px; background: #000; }
@media (max-width: 720px) {
  .cz-drawer-toggle { display: inline-block; }
  #cz-video-drawer { display: none !important; }
  #cz-video-drawer.cz-open { display: flex !important; position: fixed; top: 0; left: 0; bottom: 0; z-index: 1000;
    width: min(80vw, 300px); padding: 1rem; overflow-y: auto; background: var(--background-fill-primary);
    box-shadow: 0 0 24px rgba(0, 0, 0, .35); }
}
"""

HEAD = (
    '<meta name="theme-color" content="#6d28d9"><meta name="description" content="Cadenza, a local-first music studio">'
)


def build_studio(service: JobService) -> gr.Blocks:
    # A local-first studio does not phone home: no Gradio usage analytics.
    with gr.Blocks(title="Cadenza studio", analytics_enabled=False) as studio:
        gr.HTML(
            f'<div class="cz-header"><h1>Cadenza</h1><span class="cz-tagline">local-first music studio · '
            f"v{__version__}</span></div>"
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320, elem_classes="cz-forms"), gr.Tabs(elem_id="cz-tabs") as tabs:
                generate = GenerateTab(service)
                song_tabs = [SongTaskTab(spec, service) for spec in SONG_TASKS]
                lyrics = LyricsTab(service)
                video = VideoTab(service)
                history = HistoryTab(service)
                adapters = LorasTab(service)
            with gr.Column(scale=2, min_width=320):
                panel = build_panel()
        view = PanelView(service, panel)
        for tab in (generate, *song_tabs, lyrics, video, history, adapters):
            tab.wire(view)

        for song_tab in song_tabs:
            song_tab.tab.select(
                lambda: gr.update(choices=previous_results(service)), None, song_tab.previous, queue=False
            )

        panel.cancel.click(view.cancel, panel.current, None, queue=False)
        panel.takes.change(view.show, panel.takes, panel.outputs)

        forms_by_task = {"generate": generate, "lyrics": lyrics, **{t.spec.task: t for t in song_tabs}}
        forms_by_task.update({task: video for task in VIDEO_TASKS})
        form_outputs = [tabs]
        for form in {id(form): form for form in forms_by_task.values()}.values():
            form_outputs += list(form.fill({"task": "t2v"}).keys())

        def reuse(job_id: str | None) -> dict[Any, Any]:
            job = service.get(job_id) if job_id else None
            form = forms_by_task.get(job.task) if job else None
            if job is None or form is None:
                return {tabs: gr.update()}
            request = {**job.request, **recipe_request(job.recipe), "task": job.task}
            return {tabs: gr.Tabs(selected=getattr(form, "tab_id", job.task)), **form.fill(request)}

        panel.reuse.click(reuse, panel.shown, form_outputs)

        for button, export_format in zip(panel.exports, EXPORT_FORMATS, strict=True):
            # A partial, not a lambda: Gradio must see a generator function to stream its updates.
            button.click(
                partial(export, service, view, export_format), panel.shown, [panel.downloads, panel.export_error]
            )

        def make_video(song_id: str | None, *values: Any):
            """An a2v job for the song on show (its parent), followed in the panel from the Video area."""
            if not song_id:
                yield {panel.export_error: error_html("open a finished song first")}
                return
            yield {tabs: gr.Tabs(selected=video.tab_id), **video.fill({"task": "a2v", "audio": song_id})}
            yield from view.submit(lambda: [video.music_video(song_id, *values)], panel.export_error)

        fill_outputs = list(video.fill({"task": "a2v"}).keys())
        panel.make_video.click(
            make_video,
            [panel.shown, *video.settings, *video.files],
            [*panel.outputs, tabs, *fill_outputs],
        )
    studio.queue(default_concurrency_limit=None)
    return studio


def export(service: JobService, view: PanelView, export_format: str, job_id: str | None):
    """Run an export job on the shown song and add its archive to the downloads."""
    if not job_id:
        yield {view.panel.export_error: error_html("open a finished song first")}
        return
    try:
        job = service.submit(task="export", input={"source": job_id, "format": export_format})
    except CadenzaError as error:
        yield {view.panel.export_error: error_html(error)}
        return
    yield {view.panel.export_error: f'<p class="cz-note">Exporting {export_format}…</p>'}
    job = wait_until_finished(service, job.id, EXPORT_WAIT_SECONDS)
    archive = artifact_path(service, job, export_format)
    if job.status != "succeeded" or archive is None:
        yield {view.panel.export_error: error_html(job.error_message or f"the export is {job.status}")}
        return
    yield {view.panel.downloads: [*view.downloads(service.get(job_id)), archive], view.panel.export_error: ""}


def mount_studio(app: FastAPI, service: JobService) -> FastAPI:
    """Serve the studio at / (the API stays at /api/v1, its docs at /docs)."""
    settings = service.settings
    settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    token = settings.api_token

    def check_token(_user: str, password: str) -> bool:
        return bool(token) and secrets.compare_digest(password.encode(), token.encode())

    return gr.mount_gradio_app(
        app,
        build_studio(service),
        path="",
        auth=check_token if token else None,
        auth_message="Sign in with any user name and the server's CADENZA_API_TOKEN as the password.",
        allowed_paths=[str(settings.artifacts_dir), str(storage_for(settings).local_dir("artifacts"))],
        max_file_size=int(settings.max_upload_mb * 1024 * 1024),
        ssr_mode=False,
        theme=THEME,
        css=CSS,
        head=HEAD,
        footer_links=["api"],
    )
