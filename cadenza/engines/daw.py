"""The export engine: a finished job's stems, MIDI, lyrics and recipe as a REAPER project or an archive.

cadenza export JOB_ID --format reaper --out sessions/
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from pydantic import BaseModel

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.errors import EngineUnavailable, InputError
from cadenza.media.export.reaper import write_rpp
from cadenza.media.io import audio_info
from cadenza.tasks import ExportRequest, TaskRequest

EXTRA_ROLES = {"midi": "song.mid", "lyrics": "lyrics.txt", "lrc": "lyrics.lrc", "recipe": "recipe.json"}


class ExportEngine:
    name = "daw"
    version = __version__
    tasks = ("export",)

    def available(self) -> tuple[bool, str]:
        return True, "embedded: REAPER projects and stem archives (Ardour sessions are not written yet)"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return None

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 2.0

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Lay the files out as the format wants them, then zip the folder as one download."""
        assert isinstance(request, ExportRequest)
        source = ctx.source()
        if request.format == "ardour":
            raise EngineUnavailable("Ardour sessions are not written yet; use --format reaper or stems-zip")
        stems = source.stems or {"mix": source.path}
        folder = ctx.scratch / source.name
        (folder / "stems").mkdir(parents=True)
        ctx.progress(0.1, "collect")
        placed = {}
        for name, path in sorted(stems.items()):
            ctx.check_cancelled()
            placed[name] = folder / "stems" / f"{name}{path.suffix}"
            shutil.copyfile(path, placed[name])
        for role, filename in EXTRA_ROLES.items():
            if role in source.files:
                shutil.copyfile(source.files[role], folder / filename)
        style = (source.recipe or {}).get("style", {})
        length, rate = audio_info(source.path)
        if request.format == "reaper":
            if not style:
                raise InputError(f"{source.name} has no recipe with a tempo; a REAPER project needs one")
            numerator, denominator = (int(x) for x in style["time_signature"].split("/"))
            write_rpp(
                folder / f"{source.name}.rpp",
                stems=placed,
                bpm=style["bpm"],
                meter=(numerator, denominator),
                sample_rate=rate,
                length_s=length,
            )
        ctx.progress(0.7, "archive")
        archive = ctx.scratch / f"{source.name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    bundle.write(path, Path(source.name) / path.relative_to(folder))
        kind = "session" if request.format != "stems-zip" else "bundle"
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": "export",
            "seed": ctx.seed,
            "request": request.model_dump(mode="json"),
            "files": sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()),
        }
        return EngineOutput([Artifact(archive, kind, request.format, "application/zip")], recipe)
