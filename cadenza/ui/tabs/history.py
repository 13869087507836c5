"""History: every job, newest first; search by prompt, filter by task and status, open, reuse, delete."""

from __future__ import annotations

from typing import Any

import gradio as gr

from cadenza.errors import CadenzaError
from cadenza.jobs.service import JobService
from cadenza.tasks import TASK_MODELS
from cadenza.ui.panel import PanelView, chain, error_html

COLUMNS = ["When", "Task", "Status", "Prompt", "Seed", "Made from", "Id"]
STATUSES = ["", "queued", "running", "succeeded", "failed", "cancelled"]


class HistoryTab:
    def __init__(self, service: JobService) -> None:
        self.service = service
        with gr.Tab("History", id="history", elem_id="cz-tab-history") as self.tab:
            with gr.Row():
                self.search = gr.Textbox(label="Search prompts", placeholder="lofi", elem_id="cz-history-search")
                self.task = gr.Dropdown(["", *TASK_MODELS], value="", label="Task", elem_id="cz-history-task")
                self.status = gr.Dropdown(STATUSES, value="", label="Status", elem_id="cz-history-status")
            self.table = gr.Dataframe(
                headers=COLUMNS,
                value=[],
                interactive=False,
                wrap=True,
                elem_id="cz-history-table",
                max_height=420,
            )
            self.selected = gr.State(None)
            with gr.Row():
                self.refresh = gr.Button("Refresh", size="sm", elem_id="cz-history-refresh")
                self.delete = gr.Button("Delete selected", variant="stop", size="sm", elem_id="cz-history-delete")
            self.error = gr.HTML("", elem_classes="cz-error", elem_id="cz-history-error")

    def rows(self, text: str, task: str, status: str) -> list[list[Any]]:
        page = self.service.list(text=text or None, task=task or None, status=status or None, limit=100)
        return [
            [
                f"{job.created_at:%Y-%m-%d %H:%M}", job.task, job.status, job.prompt, job.request.get("seed"),
                chain(self.service, job), job.id,
            ]
            for job in page.items
        ]  # fmt: skip

    def wire(self, view: PanelView) -> None:
        self.view = view
        filters = [self.search, self.task, self.status]
        for trigger in (self.search.submit, self.task.change, self.status.change, self.refresh.click, self.tab.select):
            trigger(self.rows, filters, self.table)

        def open_row(event: gr.SelectData):
            job_id = event.row_value[COLUMNS.index("Id")]
            return {self.selected: job_id, **self.view.show(job_id)}

        self.table.select(open_row, None, [self.selected, *self.view.panel.outputs])

        def delete(job_id: str | None, *current_filters: str):
            if not job_id:
                return {self.error: error_html("select a job in the table first")}
            try:
                self.service.delete(job_id)
            except CadenzaError as error:
                return {self.error: error_html(error)}
            return {self.error: "", self.selected: None, self.table: self.rows(*current_filters)}

        self.delete.click(delete, [self.selected, *filters], [self.error, self.selected, self.table])
