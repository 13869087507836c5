"""`cadenza master`, `cadenza stems`, `cadenza export`: tasks whose input is a song.

SOURCE is a job id (its mix), an artifact id, an upload id, or a local audio file (uploaded for you).
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path
from typing import Annotated, Any

import typer

from cadenza.cli.common import ADVANCED_HELP, Loras, advanced_fields, console, domain_errors, fail, service

Out = Annotated[Path, typer.Option(help="Where to write the files")]
Server = Annotated[str | None, typer.Option(help="Run it on a Cadenza server at this URL instead")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object")]
Source = Annotated[str, typer.Argument(help="A job id, artifact id, upload id, or a local audio file")]
Engine = Annotated[str | None, typer.Option(help="Default: the task's default engine (see `cadenza engines`)")]
Model = Annotated[
    str | None, typer.Option(help="Neural engines: a model id (cadenza models list) or a saved model directory")
]
Advanced = Annotated[str | None, typer.Option(help=ADVANCED_HELP)]


def _submit(
    task: str,
    engine: str | None,
    source: str,
    fields: dict[str, Any],
    out: Path,
    server: str | None,
    as_json: bool,
    model: str | None = None,
    advanced: str | None = None,
    loras: list[str] | None = None,
) -> None:
    fields = {name: value for name, value in fields.items() if value is not None}  # unset: the task's default
    _refuse_missing_file(source, as_json)
    if chosen := advanced_fields(advanced, model, as_json, loras):
        fields["advanced"] = chosen
    if server:
        from cadenza.cli.remote import run_remote, upload_remote

        source_id = upload_remote(server, Path(source), as_json) if Path(source).is_file() else source
        run_remote(server, task, engine, {"source": source_id, **fields}, out, as_json)
        return
    from cadenza.cli.generate import run_local

    with domain_errors(as_json):
        if Path(source).is_file():
            source = service().upload_file(Path(source)).id
        elif len(source) < ID_LENGTH and ID_PREFIX.match(source):
            source = service().resolve_id(source)
    run_local(task, engine, {"source": source, **fields}, out, as_json)


ID_LENGTH = 32
ID_PREFIX = re.compile(r"^[0-9a-f]{4,31}$")
ID_CHARACTERS = re.compile(r"^[A-Za-z0-9_-]+$")


def _refuse_missing_file(source: str, as_json: bool) -> None:
    """A SOURCE that cannot be an id (it has a dot or a slash) and is not a file is a missing file."""
    path = Path(source)
    if path.is_file():
        return
    if path.is_dir():
        fail(f"{source} is a directory; SOURCE is an audio file or a job, artifact or upload id", as_json=as_json)
    if not ID_CHARACTERS.match(source):
        fail(
            f"no such file: {source} (SOURCE is a local audio file, or a job, artifact or upload id)",
            as_json=as_json,
            category="not_found",
        )


def master(
    source: Source,
    lufs: Annotated[float, typer.Option(help="Integrated loudness target, -30 to -6 LUFS")] = -14.0,
    true_peak: Annotated[float, typer.Option("--true-peak", help="True-peak ceiling, -6 to 0 dBTP")] = -1.0,
    audio_format: Annotated[str, typer.Option("--format", help="wav, flac or mp3")] = "wav",
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Master a song to a loudness target under a true-peak ceiling (before/after figures in the recipe)."""
    _submit(
        "master", None, source, {"lufs": lufs, "true_peak": true_peak, "format": audio_format}, out, server, as_json
    )


def stems(
    source: Source,
    engine: Annotated[
        str | None, typer.Option(help="native (procedural songs), demucs, hpss; default: native or hpss")
    ] = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Split a song into stems that sum to it: its own stems for a procedural song, else harmonic/percussive."""
    _submit("stems", engine, source, {}, out, server, as_json)


def export(
    job: Annotated[str, typer.Argument(help="The id of a finished job")],
    export_format: Annotated[str, typer.Option("--format", help="ardour, reaper or stems-zip")] = "stems-zip",
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Take a song into a DAW: an Ardour session, a REAPER project, or an archive of stems, MIDI, lyrics, recipe."""
    _submit("export", None, job, {"format": export_format}, out, server, as_json)
    if not as_json:
        for archive in sorted(out.glob("*.zip")):
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(out)
            console.print(f"unpacked {archive.name} into {out}", highlight=False)


def edit(
    source: Source,
    start: Annotated[float, typer.Option(help="Seconds; snapped to the nearest bar line")],
    end: Annotated[float, typer.Option(help="Seconds; snapped to the nearest bar line")],
    prompt: Annotated[str, typer.Option(help="What the new bars should be")] = "",
    seed: Annotated[int | None, typer.Option(help="Seed of the new bars")] = None,
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Repaint a range of a song, snapped to bar lines; everything outside it stays as it was."""
    fields = {"start": start, "end": end, "prompt": prompt, "seed": seed}
    _submit("edit", engine, source, fields, out, server, as_json, model, advanced, lora)


def extend(
    source: Source,
    seconds: Annotated[float, typer.Option(help="How much longer the song becomes, 2 to 300")] = 20.0,
    prompt: Annotated[str, typer.Option(help="What the new sections should be")] = "",
    seed: Annotated[int | None, typer.Option(help="Seed of the new sections")] = None,
    side: Annotated[str, typer.Option(help="end (the only side so far)")] = "end",
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Continue a song with new sections in its tempo and key (a procedural song's ending moves to the new end)."""
    fields = {"seconds": seconds, "side": side, "prompt": prompt, "seed": seed}
    _submit("extend", engine, source, fields, out, server, as_json, model, advanced, lora)


def lyrics(
    theme: Annotated[str, typer.Argument(help="What the song is about")],
    structure: Annotated[
        str, typer.Option(help="Comma-separated sections")
    ] = "verse,chorus,verse,chorus,bridge,chorus",
    language: Annotated[str, typer.Option(help="Language code (rhyme: en)")] = "en",
    engine: Annotated[str | None, typer.Option(help="rhyme (embedded) or llm")] = None,
    seed: Annotated[int | None, typer.Option(help="Same seed, same lyrics (rhyme)")] = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Write lyrics on a theme as tagged text ([Verse 1], [Chorus], ...), one line per sung phrase."""
    fields = {
        "theme": theme,
        "structure": structure,
        "language": language,
        **({"seed": seed} if seed is not None else {}),
    }
    if server:
        from cadenza.cli.remote import run_remote

        run_remote(server, "lyrics", engine, fields, out, as_json)
    else:
        from cadenza.cli.generate import run_local

        run_local("lyrics", engine, fields, out, as_json)
    if not as_json:  # the words go to stdout, so `cadenza lyrics ... > words.txt` keeps them
        for sheet in sorted(out.glob("*.txt"))[-1:]:
            sys.stdout.write(sheet.read_text().rstrip("\n") + "\n")


def cover(
    source: Source,
    prompt: Annotated[str, typer.Option(help="The new style, e.g. 'bossa nova, nylon guitar'")],
    strength: Annotated[
        float, typer.Option(help="1 keeps melody, harmony and form; lower lets the arranger vary")
    ] = 1.0,
    bpm: Annotated[float | None, typer.Option(help="Override the source's tempo")] = None,
    key: Annotated[str | None, typer.Option(help="Override the source's key")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the arrangement")] = None,
    engine: Engine = None,
    model: Model = None,
    advanced: Advanced = None,
    lora: Loras = None,
    out: Out = Path("cadenza-out"),
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Restyle a song: its melody and harmony re-arranged in the style of the prompt."""
    fields = {"prompt": prompt, "strength": strength, "bpm": bpm, "key": key, "seed": seed}
    _submit("cover", engine, source, fields, out, server, as_json, model, advanced, lora)
