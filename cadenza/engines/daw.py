"""The export engine: a finished job's stems, MIDI, lyrics and recipe as a DAW session or an archive.

cadenza export JOB_ID --format reaper --out sessions/
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from pydantic import BaseModel

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.errors import InputError
from cadenza.media.export.ardour import session_name, write_ardour_session
from cadenza.media.export.reaper import write_rpp
from cadenza.media.io import audio_info
from cadenza.tasks import ExportRequest, TaskRequest

EXTRA_ROLES = {"midi": "song.mid", "lyrics": "lyrics.txt", "lrc": "lyrics.lrc", "recipe": "recipe.json"}


class ExportEngine:
    name = "daw"
    version = __version__
    tasks = ("export",)

    def available(self) -> tuple[bool, str]:
        return True, "embedded: Ardour sessions, REAPER projects and stem archives"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return None

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 2.0

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Lay the files out as the format wants them, then zip the folder as one download."""
        assert isinstance(request, ExportRequest)
        source = ctx.source()
        stems = {session_name(name): path for name, path in sorted((source.stems or {"mix": source.path}).items())}
        folder = ctx.scratch / session_name(source.name)
        folder.mkdir()
        ctx.progress(0.1, "collect")
        for role, filename in EXTRA_ROLES.items():
            if role in source.files:
                shutil.copyfile(source.files[role], folder / filename)
        style = (source.recipe or {}).get("style", {})
        if request.format == "stems-zip":
            self._copy_stems(stems, folder / "stems", ctx)
        else:
            if not style:
                raise InputError(f"{source.name} has no recipe with a tempo; a {request.format} session needs one")
            numerator, denominator = (int(x) for x in style["time_signature"].split("/"))
            if request.format == "ardour":
                write_ardour_session(
                    folder, name=folder.name, stems=stems, bpm=style["bpm"], meter=(numerator, denominator)
                )
            else:
                length, rate = audio_info(source.path)
                write_rpp(
                    folder / f"{folder.name}.rpp",
                    stems=self._copy_stems(stems, folder / "stems", ctx),
                    bpm=style["bpm"],
                    meter=(numerator, denominator),
                    sample_rate=rate,
                    length_s=length,
                )
        ctx.progress(0.7, "archive")
        archive = ctx.scratch / f"{source.name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
            # Folders too: an Ardour session expects its empty ones (peaks, export, ...) to exist.
            for path in sorted(folder.rglob("*")):
                bundle.write(path, Path(folder.name) / path.relative_to(folder))
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

    @staticmethod
    def _copy_stems(stems: dict[str, Path], into: Path, ctx: RunContext) -> dict[str, Path]:
        into.mkdir()
        placed = {}
        for name, path in stems.items():
            ctx.check_cancelled()
            placed[name] = into / f"{name}{path.suffix}"
            shutil.copyfile(path, placed[name])
        return placed
