"""`cadenza video ...`: the six video tasks. Inputs are ids (job, artifact, upload) or local files,
which are uploaded (and checked) first. Runs in-process, or on a server with --server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cadenza.cli.common import ADVANCED_HELP, Loras, advanced_fields, console, domain_errors

app = typer.Typer(
    help="Make videos: titles, camera moves, music videos, keyframe motion, restyled clips.",
    no_args_is_help=True,
)
Option = typer.Option
Prompt = Annotated[str, Option(help="What the video should show or look like")]
Duration = Annotated[float | None, Option("--duration", "-d", help="Seconds (default: the engine's or the source's)")]
Frames = Annotated[int | None, Option(help="Frame count, instead of --duration")]
Fps = Annotated[int | None, Option(help="Frames per second, 1 to 60 (motion default 30)")]
Width = Annotated[int | None, Option(help="Pixels, even, 64 to 1920 (motion default 1280)")]
Height = Annotated[int | None, Option(help="Pixels, even, 64 to 1920 (motion default 720)")]
Seed = Annotated[int | None, Option(help="Same seed, same frames; default random")]
Preset = Annotated[str, Option(help="fast, balanced or quality")]
Engine = Annotated[str | None, Option(help="motion (embedded) or ltx; default: the task's (see `cadenza engines`)")]
Model = Annotated[str | None, Option(help="Model engines: a model id or a saved model directory")]
Advanced = Annotated[str | None, Option(help=ADVANCED_HELP)]
Out = Annotated[Path, Option(help="Where to write the files")]
Server = Annotated[str | None, Option(help="Run it on a Cadenza server at this URL instead")]
Json = Annotated[bool, Option("--json", help="Print one JSON object")]
Ref = "A job id, artifact id, upload id, or a local file (uploaded for you)"


def _run(task: str, refs: dict[str, str | None], options: dict[str, Any]) -> None:
    """Upload local files, build the request, print the estimate, run it here or on the server."""
    as_json, server = options["as_json"], options["server"]
    fields: dict[str, Any] = {
        name: options[name]
        for name in ("prompt", "duration", "frames", "fps", "width", "height", "seed", "preset")
        if options.get(name) not in (None, "")
    }
    if chosen := advanced_fields(options["advanced"], options["model"], as_json, options.get("lora")):
        fields["advanced"] = chosen
    for name, value in refs.items():
        if value:
            fields[name] = _reference(value, server, as_json)
    if server:
        from cadenza.cli.remote import run_remote

        run_remote(server, task, options["engine"], fields, options["out"], as_json)
        return
    from cadenza.cli.generate import run_local

    if not as_json:
        _print_estimate(task, options["engine"], fields)
    run_local(task, options["engine"], fields, options["out"], as_json)


def _reference(value: str, server: str | None, as_json: bool) -> str:
    path = Path(value).expanduser()
    if not path.is_file():
        return value
    if server:
        from cadenza.cli.remote import upload_remote

        return upload_remote(server, path, as_json)
    from cadenza.cli.common import service

    with domain_errors(as_json):
        return service().upload_file(path).id


def _print_estimate(task: str, engine: str | None, fields: dict[str, Any]) -> None:
    from cadenza.engines import registry
    from cadenza.errors import CadenzaError
    from cadenza.tasks import parse_request

    try:
        request = parse_request(task, fields)
        name = engine or registry.default_engine(task)
        serves = name in registry.ENGINES and task in registry.ENGINES[name][1]
        seconds = registry.load(name).estimate_seconds(request) if serves else None
    except CadenzaError:
        return  # the submission reports the problem
    if seconds is not None:
        console.print(f"[dim]{task} with {name}: about {seconds:g} s[/]", highlight=False)


@app.command("t2v")
def t2v(
    prompt: Annotated[str, typer.Argument(help="The title or lyric lines to set in motion")],
    duration: Duration = None,
    frames: Frames = None,
    fps: Fps = None,
    width: Width = None,
    height: Height = None,
    seed: Seed = None,
    preset: Preset = "balanced",
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Text to video: a typographic title or lyric video over a moving background (motion)."""
    _run("t2v", {}, locals())


@app.command("i2v")
def i2v(
    image: Annotated[str, typer.Argument(help=f"The still. {Ref}")],
    audio: Annotated[str | None, Option(help=f"A song to follow the beat of. {Ref}")] = None,
    prompt: Prompt = "",
    duration: Duration = None,
    frames: Frames = None,
    fps: Fps = None,
    width: Width = None,
    height: Height = None,
    seed: Seed = None,
    preset: Preset = "balanced",
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Image to video: a camera move over a still (push in, pull out, pan, drift), on the beat with --audio."""
    _run("i2v", {"image": image, "audio": audio}, locals())


@app.command("a2v")
def a2v(
    source: Annotated[str, typer.Argument(help=f"The song. {Ref}")],
    image: Annotated[str | None, Option(help=f"A background image. {Ref}")] = None,
    prompt: Prompt = "",
    duration: Duration = None,
    frames: Frames = None,
    fps: Fps = None,
    width: Width = None,
    height: Height = None,
    seed: Seed = None,
    preset: Preset = "balanced",
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Audio to video: a music video on the song's beat with its lyrics as captions (looks: bars, ring, wave)."""
    _run("a2v", {"audio": source, "image": image}, locals())


@app.command("lipsync")
def lipsync(
    image: Annotated[str, typer.Argument(help=f"The face. {Ref}")],
    audio: Annotated[str, typer.Argument(help=f"The speech or song. {Ref}")],
    prompt: Prompt = "",
    duration: Duration = None,
    frames: Frames = None,
    fps: Fps = None,
    width: Width = None,
    height: Height = None,
    seed: Seed = None,
    preset: Preset = "balanced",
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """A face image speaking or singing the audio (needs a model engine, see `cadenza engines`)."""
    _run("lipsync", {"image": image, "audio": audio}, locals())


@app.command("keyframe")
def keyframe(
    first: Annotated[str, typer.Argument(help=f"The first frame. {Ref}")],
    last: Annotated[str, typer.Argument(help=f"The last frame. {Ref}")],
    prompt: Prompt = "",
    duration: Duration = None,
    frames: Frames = None,
    fps: Fps = None,
    width: Width = None,
    height: Height = None,
    seed: Seed = None,
    preset: Preset = "balanced",
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """The motion from a first frame to a last (motion: dense optical flow, not a crossfade)."""
    _run("keyframe", {"first_frame": first, "last_frame": last}, locals())


@app.command("style")
def style(
    video: Annotated[str, typer.Argument(help=f"The source video. {Ref}")],
    control: Annotated[
        str | None,
        Option(help=f"A control video (depth, pose, edges) for an IC-LoRA given with --lora, engine ltx. {Ref}"),
    ] = None,
    prompt: Annotated[str, Option(help="The look: cartoon, pencil, noir, vintage, warm, cool, teal, grain")] = "",
    duration: Duration = None,
    frames: Frames = None,
    fps: Fps = None,
    width: Width = None,
    height: Height = None,
    seed: Seed = None,
    preset: Preset = "balanced",
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Restyle a video by the prompt; its frame count and sound are kept."""
    _run("style", {"video": video, "control": control}, locals())
