"""Form pieces every task tab uses: the engine picker, the Advanced accordion, and a song source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from cadenza.engines import registry
from cadenza.errors import CadenzaError, InputError
from cadenza.jobs.service import JobService


def engine_choices(task: str) -> tuple[list[tuple[str, str]], str | None, str]:
    """(choices, default, set-up notes) for a task's picker; unavailable engines are marked."""
    infos = [info for info in registry.describe() if task in info.tasks and info.name != "noop"]
    choices = [(info.name if info.available else f"{info.name} (unavailable)", info.name) for info in infos]
    reasons = [f"**{info.name}** — unavailable: {info.reason}" for info in infos if not info.available]
    default = registry.DEFAULTS.get(task) or (choices[0][1] if choices else None)
    return choices, default, "\n\n".join(reasons)


def engine_picker(task: str) -> gr.Dropdown:
    """Engines that serve the task; unavailable ones are marked and their reason shown below."""
    choices, default, reasons = engine_choices(task)
    picker = gr.Dropdown(
        choices=choices,
        value=default,
        label="Engine",
        elem_id=f"cz-{task}-engine",
        interactive=len(choices) > 1,
    )
    if reasons:  # folded: the fixes are long (fetch commands, server URLs) and matter only when wanted
        count = reasons.count("**") // 2
        with gr.Accordion(f"{count} more engine{'s' if count > 1 else ''} need set-up", open=False):
            gr.Markdown(reasons, elem_classes="cz-note")
    return picker


def _field(name: str, spec: dict[str, Any], value: Any) -> gr.components.Component:
    """One control for one property of an engine's advanced-parameter JSON schema."""
    kind = _kind(spec)
    label = spec.get("title", name)
    info = spec.get("description")
    if "enum" in kind:
        return gr.Dropdown(choices=kind["enum"], value=value, label=label, info=info)
    if kind.get("type") == "boolean":
        return gr.Checkbox(value=bool(value), label=label, info=info)
    if kind.get("type") in ("number", "integer"):
        return gr.Number(
            value=value,
            label=label,
            info=info,
            minimum=kind.get("minimum"),
            maximum=kind.get("maximum"),
            precision=0 if kind.get("type") == "integer" else None,
        )
    if kind.get("type") == "array":
        shown = ", ".join(str(item) for item in value or [])
        return gr.Textbox(value=shown, label=label, info=f"{info} (comma-separated)" if info else None)
    return gr.Textbox(value="" if value is None else str(value), label=label, info=info)


def _kind(spec: dict[str, Any]) -> dict[str, Any]:
    """The schema of a property's value, without the `null` of an optional one."""
    options = [s for s in spec.get("anyOf", [spec]) if s.get("type") != "null"]
    return options[0] if options else spec


def _value(spec: dict[str, Any], value: Any) -> Any:
    """A control's value as the schema wants it: lists are typed as comma-separated text."""
    if _kind(spec).get("type") == "array" and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def advanced_accordion(
    task: str,
    engine: gr.Dropdown,
    mode: gr.components.Component | None = None,
    service: JobService | None = None,
) -> gr.State:
    """An "Advanced" accordion drawn from the chosen engine's schema; returns the state holding the values.

    `mode`, when given, is a component holding the task (an area with several modes, like Video), and
    the accordion is redrawn for the task it names. With the service, engines that take adapters also
    show a weight slider per stored adapter that fits."""
    values = gr.State({})
    with gr.Accordion("Advanced", open=False, elem_id=f"cz-{task}-advanced"):

        @gr.render(inputs=[engine] if mode is None else [engine, mode])
        def draw(engine_name: str | None, chosen_task: str = task) -> None:
            model = None
            if engine_name:
                try:
                    model = registry.load(engine_name).advanced_model(chosen_task)
                except CadenzaError as error:
                    gr.Markdown(error.message)
            if model is None:
                gr.Markdown("This engine has no extra parameters.", elem_classes="cz-note")
                return
            for name, spec in model.model_json_schema().get("properties", {}).items():
                if name == "loras":
                    from cadenza.ui.loras import adapter_sliders

                    adapter_sliders(service, engine_name, values)
                    continue
                control = _field(name, spec, spec.get("default"))

                def remember(
                    value: Any, current: dict[str, Any], key: str = name, spec: dict[str, Any] = spec
                ) -> dict[str, Any]:
                    changed = dict(current)
                    if value in (None, "", []):
                        changed.pop(key, None)
                    else:
                        changed[key] = _value(spec, value)
                    return changed

                control.change(remember, [control, values], values)

    for trigger in (engine, mode) if mode is not None else (engine,):
        trigger.change(lambda _: {}, trigger, values)
    return values


def source_picker(task: str) -> tuple[gr.Audio, gr.Dropdown]:
    """Upload audio, or pick a previous result from the history."""
    with gr.Group():
        upload = gr.Audio(label="Upload audio", type="filepath", sources=["upload"], elem_id=f"cz-{task}-upload")
        previous = gr.Dropdown(
            label="…or a previous result",
            choices=[],
            value=None,
            elem_id=f"cz-{task}-previous",
            allow_custom_value=False,
        )
    return upload, previous


# what a previous result offers for each kind of input: the roles a job id stands for (see jobs/sources.py)
RESULT_ROLES = {"audio": ("mix", "audio"), "image": ("poster", "image"), "video": ("video",)}


def previous_results(service: JobService, limit: int = 50, kind: str = "audio") -> list[tuple[str, str]]:
    """Finished jobs with an output of `kind` (songs by default), newest first, as (label, job id)."""
    page = service.list(status="succeeded", limit=limit)
    results = []
    for job in page.items:
        if any(artifact.role in RESULT_ROLES[kind] for artifact in job.artifacts):
            label = f"{job.created_at:%m-%d %H:%M} · {job.task} · {(job.prompt or '')[:40]} · {job.id[:8]}"
            results.append((label, job.id))
    return results


def resolve_source(
    service: JobService, upload: str | None, previous: str | None, field: str = "source", what: str = "an audio file"
) -> str:
    """The source id for a request: a fresh upload wins over a picked result."""
    if upload:
        return service.upload_file(Path(upload)).id
    if previous:
        return previous
    raise InputError(f"{field}: upload {what} or pick a previous result")


def number_or_none(value: float | None) -> float | None:
    """Number boxes cannot be empty; 0 stands for "not set" where 0 is not a meaningful value."""
    return None if value in (None, "", 0) else float(value)
