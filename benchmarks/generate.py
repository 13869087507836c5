"""A 180 s song with the procedural engine: the whole `cadenza generate` process, each stage, and
FluidSynth rendering the same MIDI with the same SoundFont in the same run (when it is installed);
then the same command at 30 s and 600 s for CPU time per second of audio and peak memory.

`python -m benchmarks.generate` (part of `make bench`). `CADENZA_BENCH_SONG_RUNS` (default 3) sets the
runs per figure; `CADENZA_BENCH_SONG_SCALING=0` skips the 30 s / 600 s runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, median, write_section

PROMPT = "melancholic lofi hip hop, 84 bpm, A minor, warm rhodes and vinyl crackle"
SECONDS = 180.0
SCALING_SECONDS = (30.0, 600.0)
RUNS = int(os.environ.get("CADENZA_BENCH_SONG_RUNS", "3"))

# Runs `command` as a child and prints its wall time, CPU time (user + system) and peak resident
# memory (ru_maxrss of the waited-for child: the whole process, interpreter included) as JSON.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - start
if done.returncode:
    sys.exit(done.stderr[-2000:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}))
"""


def bundled_soundfont() -> str:
    """The SoundFont every install has (inside pretty_midi's wheel), so runs on different machines compare."""
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    assert spec and spec.submodule_search_locations
    return str(Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2")


def measured(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one run of `command` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: median([run[key] for run in runs]) for key in runs[0]}


def generate_command(seconds: float, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cadenza",
        "generate",
        PROMPT,
        "--duration",
        f"{seconds:g}",
        "--seed",
        "7",
        "--out",
        str(out),
    ]


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


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.1f} (1 min) / {five:.1f} (5 min)"


def main() -> dict[str, float]:
    soundfont = bundled_soundfont()
    env = {"CADENZA_SOUNDFONT": soundfont}
    work = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    fluidsynth = shutil.which("fluidsynth")
    load_before = load_average()
    try:
        runs: list[dict[str, float]] = []
        fluid_runs: list[dict[str, float]] = []
        midi = ""
        for i in range(RUNS):  # interleaved, so both feel the same load
            out = work / f"out{i}"
            command = generate_command(SECONDS, out)
            runs.append(measured(command, {**env, "CADENZA_HOME": str(work / f"home{i}")}))
            midi = str(next(out.glob("*.mid")))
            if fluidsynth:
                fluid = [fluidsynth, "-ni", "-q", "-r", "44100", "-F", str(work / "fluid.wav"), soundfont, midi]
                fluid_runs.append(measured(fluid, {}))
        scaling: dict[float, dict[str, float]] = {}
        if os.environ.get("CADENZA_BENCH_SONG_SCALING", "1") != "0":
            for seconds in SCALING_SECONDS:
                repeats = RUNS if seconds <= SECONDS else 1
                results = []
                for i in range(repeats):
                    out = work / f"scale{seconds:g}-{i}"
                    command = generate_command(seconds, out)
                    results.append(measured(command, {**env, "CADENZA_HOME": str(work / f"home-s{seconds:g}-{i}")}))
                scaling[seconds] = medians(results)
        os.environ["CADENZA_SOUNDFONT"] = soundfont
        stages, in_process = stage_times(work / "home-stages")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    song = medians(runs)
    lines = [
        f"Machine: {machine()}. Load average before the run {load_before}, after {load_average()} "
        "(other work shares these cores: compare ratios within the run, not absolute times). "
        f"SoundFont: `{Path(soundfont).name}` for both renderers. "
        f'Prompt: "{PROMPT}", seed 7, median of {RUNS} runs, Cadenza and FluidSynth interleaved. '
        "Command: `make bench` or `python -m benchmarks.generate`.",
        "",
        "| measure | wall s | CPU s | peak RSS MB | real-time factor |",
        "|---|---:|---:|---:|---:|",
        f"| `cadenza generate` 180 s, whole process (start, compose, render 8 stems, master, write mix, stems, "
        f"MIDI and recipe, record) | {song['wall']:.2f} | {song['cpu']:.2f} | {song['peak_mb']:.0f} | "
        f"{SECONDS / song['wall']:.0f}x |",
    ]
    figures = {"generate_wall_s": song["wall"], "generate_cpu_s": song["cpu"], "generate_peak_mb": song["peak_mb"]}
    if fluid_runs:
        fluid = medians(fluid_runs)
        lines.append(
            "| FluidSynth `-F` rendering the same MIDI (one stereo WAV, no stems, no mastering) | "
            f"{fluid['wall']:.2f} | {fluid['cpu']:.2f} | {fluid['peak_mb']:.0f} | {SECONDS / fluid['wall']:.0f}x |"
        )
        figures |= {"fluidsynth_wall_s": fluid["wall"], "fluidsynth_cpu_s": fluid["cpu"]}
    lines += [f"| the job in-process (no interpreter start) | {in_process:.2f} | | | {SECONDS / in_process:.0f}x |"]
    lines += [f"| stage `{name}` | {seconds:.2f} | | | |" for name, seconds in stages.items()]
    figures |= {"in_process_s": in_process, **{f"stage_{k}_s": v for k, v in stages.items()}}
    if fluid_runs:
        lines += [
            "",
            f"**Song goal** (`cadenza generate` no slower than FluidSynth; stretch: half its time): "
            f"{song['wall'] / fluid['wall']:.2f}x FluidSynth's wall time, "
            f"{song['cpu'] / fluid['cpu']:.2f}x its CPU time.",
        ]
    else:
        lines += ["", "FluidSynth is not installed (`apt-get install fluidsynth`), so no peer was measured."]
    if scaling:
        lines += [
            "",
            "| song length | wall s | CPU s | CPU s per second of audio | peak RSS MB |",
            "|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {seconds:g} s | {r['wall']:.2f} | {r['cpu']:.2f} | {r['cpu'] / seconds:.4f} | {r['peak_mb']:.0f} |"
            for seconds, r in scaling.items()
        ]
        short, long = (scaling[s] for s in SCALING_SECONDS)
        span = SCALING_SECONDS[1] - SCALING_SECONDS[0]
        per_second = (short["cpu"] / SCALING_SECONDS[0], long["cpu"] / SCALING_SECONDS[1])
        marginal_mb = (long["peak_mb"] - short["peak_mb"]) / span
        marginal_cpu = (long["cpu"] - short["cpu"]) / span
        lines += [
            "",
            f"**Scaling goal** (CPU per second of audio equal at 30 s and 600 s within 15%; peak memory under "
            f"600 MB at 600 s and flat in duration): the 600 s song costs {per_second[1] / per_second[0]:.2f}x "
            f"the 30 s song's CPU per second of audio (whole process, start-up included); each second of audio "
            f"past 30 s costs {marginal_cpu:.4f} CPU s; peak memory {long['peak_mb']:.0f} MB at 600 s, "
            f"{marginal_mb:.2f} MB more per second of audio.",
        ]
        figures |= {
            "cpu_per_audio_s_30": per_second[0],
            "cpu_per_audio_s_600": per_second[1],
            "peak_mb_30": short["peak_mb"],
            "peak_mb_600": long["peak_mb"],
        }
    write_section("Procedural engine: a 180 s song", "\n".join(lines))
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
