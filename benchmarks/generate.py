"""A 180 s song with the procedural engine: the whole `cadenza generate` process, each stage, and
FluidSynth rendering the same MIDI with the same SoundFont in the same run (when it is installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, median, timed, write_section

PROMPT = "melancholic lofi hip hop, 84 bpm, A minor, warm rhodes and vinyl crackle"
SECONDS = 180.0
RUNS = 3


def bundled_soundfont() -> str:
    """The SoundFont every install has (inside pretty_midi's wheel), so runs on different machines compare."""
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    assert spec and spec.submodule_search_locations
    return str(Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2")


def stage_times(home: Path) -> tuple[dict[str, float], float]:
    """Run one job in this process through the worker and time each progress stage."""
    from cadenza.config import load_settings
    from cadenza.jobs.db import ensure_schema
    from cadenza.jobs.service import JobService
    from cadenza.jobs.store import Store
    from cadenza.jobs.worker import run_job

    settings = load_settings(home=home)
    ensure_schema(settings.database)
    service = JobService(settings, Store(settings.database))
    job = service.submit(task="generate", input={"prompt": PROMPT, "duration": SECONDS, "seed": 7}, enqueue=False)
    stages: dict[str, float] = {}
    mark = {"stage": "start", "at": time.perf_counter()}

    def listener(_: float, stage: str) -> None:
        if stage != mark["stage"]:
            now = time.perf_counter()
            stages[mark["stage"]] = stages.get(mark["stage"], 0.0) + now - mark["at"]
            mark.update(stage=stage, at=now)

    start = time.perf_counter()
    run_job(settings, service.store, job.id, listener=listener)
    total = time.perf_counter() - start
    stages[mark["stage"]] = stages.get(mark["stage"], 0.0) + time.perf_counter() - mark["at"]
    stages.pop("done", None)
    return stages, total


def main() -> dict[str, float]:
    soundfont = bundled_soundfont()
    env = {"CADENZA_SOUNDFONT": soundfont}
    work = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    try:
        command = [
            sys.executable,
            "-m",
            "cadenza",
            "generate",
            PROMPT,
            "--duration",
            str(SECONDS),
            "--seed",
            "7",
            "--json",
            "--out",
            str(work / "out"),
        ]
        walls = [timed(command, {**env, "CADENZA_HOME": str(work / f"home{i}")}) for i in range(RUNS)]
        report = json.loads(
            subprocess.run(
                command,
                env={**os.environ, **env, "CADENZA_HOME": str(work / "home-last")},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        midi = next(a["path"] for a in report["artifacts"] if a["role"] == "midi")
        os.environ["CADENZA_SOUNDFONT"] = soundfont
        stages, in_process = stage_times(work / "home-stages")

        fluidsynth = shutil.which("fluidsynth")
        fluid_walls: list[float] = []
        if fluidsynth:
            for _ in range(RUNS):
                fluid_walls.append(
                    timed([fluidsynth, "-ni", "-q", "-r", "44100", "-F", str(work / "fluid.wav"), soundfont, midi])
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    wall = median(walls)
    lines = [
        f"Machine: {machine()}. SoundFont: `{Path(soundfont).name}` for both renderers. "
        f'Prompt: "{PROMPT}", {SECONDS:g} s, seed 7, median of {RUNS} runs.',
        "",
        "| measure | seconds | real-time factor |",
        "|---|---:|---:|",
        f"| `cadenza generate` whole process (start, compose, render 8 stems, master, write, record) | {wall:.2f} | "
        f"{SECONDS / wall:.0f}x |",
        f"| the job in-process (no interpreter start) | {in_process:.2f} | {SECONDS / in_process:.0f}x |",
    ]
    lines += [f"| stage `{name}` | {seconds:.2f} | |" for name, seconds in stages.items()]
    figures = {"generate_wall_s": wall, "in_process_s": in_process, **{f"stage_{k}_s": v for k, v in stages.items()}}
    if fluid_walls:
        fluid = median(fluid_walls)
        render = stages.get("render", 0.0)
        lines += [
            f"| FluidSynth `-F` rendering the same MIDI (one stereo mix, no stems, no mastering) | {fluid:.2f} | "
            f"{SECONDS / fluid:.0f}x |",
            "",
            f"Cadenza's render stage (all stems, reverb, write) against FluidSynth's mix-only render: "
            f"{render / fluid:.2f}x its time; the whole command: {wall / fluid:.2f}x.",
        ]
        figures["fluidsynth_s"] = fluid
    else:
        lines += ["", "FluidSynth is not installed (`apt-get install fluidsynth`), so no peer was measured."]
    lines += ["", "Target: 180 s in under 3 s (60x real time), faster than FluidSynth."]
    write_section("Procedural engine: a 180 s song", "\n".join(lines))
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
