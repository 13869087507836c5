"""The motion engine's music video (a2v) of a 180 s song at 1280x720, 30 fps, with its audio, against
FFmpeg's own visualizers (showwaves, showspectrum) rendering the same mix at the same size, rate and
x264/AAC settings, measured in the same run. CADENZA_BENCH_VIDEO_SECONDS shortens the song,
CADENZA_BENCH_VIDEO_PEERS and CADENZA_BENCH_VIDEO_PRESETS (comma-separated) choose what runs."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, write_section

SECONDS = float(os.environ.get("CADENZA_BENCH_VIDEO_SECONDS", "180"))
PEERS = [p for p in os.environ.get("CADENZA_BENCH_VIDEO_PEERS", "showwaves,showspectrum").split(",") if p]
PRESETS = [p for p in os.environ.get("CADENZA_BENCH_VIDEO_PRESETS", "fast,balanced").split(",") if p]
WIDTH, HEIGHT, FPS = 1280, 720, 30
FILTERS = {
    "showwaves": f"showwaves=s={WIDTH}x{HEIGHT}:mode=line:rate={FPS}",
    "showspectrum": f"showspectrum=s={WIDTH}x{HEIGHT}:slide=scroll:fps={FPS}",
}


def song(folder: Path) -> tuple[Path, float]:
    from cadenza.engines.base import RunContext
    from cadenza.engines.procedural.engine import ProceduralEngine
    from cadenza.tasks import GenerateRequest

    request = GenerateRequest(prompt="synth pop, driving", duration=SECONDS, bpm=120, seed=1)
    out = ProceduralEngine().run(request, RunContext(seed=1, scratch=folder))
    mix = next(a for a in out.artifacts if a.role == "mix")
    return mix.path, out.recipe["length_seconds"]


def _cpu(who: int) -> float:
    """CPU seconds (user + system, all threads) of this process or of its finished children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def motion(folder: Path, mix: Path, recipe: dict, preset: str) -> tuple[float, float]:
    from cadenza.engines.base import RunContext, SourceFile
    from cadenza.engines.motion.engine import MotionEngine
    from cadenza.tasks import A2VRequest

    scratch = folder / f"motion-{preset}"
    scratch.mkdir()
    ctx = RunContext(seed=1, scratch=scratch, inputs={"audio": SourceFile(mix, "song", recipe)})
    start, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    MotionEngine().run(A2VRequest(audio="song", preset=preset), ctx)
    return time.perf_counter() - start, _cpu(resource.RUSAGE_SELF) - cpu


def ffmpeg(folder: Path, mix: Path, name: str, x264: tuple[str, str]) -> tuple[float, float]:
    preset, params = x264
    command = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(mix),
               "-filter_complex", f"[0:a]{FILTERS[name]},format=yuv420p[v]", "-map", "[v]", "-map", "0:a",
               "-c:v", "libx264", "-preset", preset, *(["-x264-params", params] if params else []), "-crf", "20",
               "-c:a", "aac", "-b:a", "192k", "-ar", "48000",
               "-movflags", "+faststart", str(folder / f"{name}_{preset}.mp4")]  # fmt: skip
    start, cpu = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True)
    return time.perf_counter() - start, _cpu(resource.RUSAGE_CHILDREN) - cpu


def main() -> dict[str, float]:
    from cadenza.engines.motion.output import X264

    folder = Path(tempfile.mkdtemp(prefix="cadenza-bench-video-"))
    try:
        mix, length = song(folder)
        recipe = {"style": {"bpm": 120, "time_signature": "4/4"}}
        figures: dict[str, float] = {"song_seconds": length}
        rows = []
        load = [os.getloadavg()[0]]
        for preset in PRESETS:
            wall, cpu = motion(folder, mix, recipe, preset)
            figures[f"motion_{preset}_s"], figures[f"motion_{preset}_cpu_s"] = wall, cpu
            rows.append((preset, f"motion a2v, preset {preset} ({_x264(X264[preset])})", wall, cpu))
            for peer in PEERS if shutil.which("ffmpeg") else []:
                peer_wall, peer_cpu = ffmpeg(folder, mix, peer, X264[preset])
                figures[f"{peer}_{preset}_s"], figures[f"{peer}_{preset}_cpu_s"] = peer_wall, peer_cpu
                rows.append((preset, f"ffmpeg {peer} ({_x264(X264[preset])})", peer_wall, peer_cpu))
        load.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [
        "| renderer | wall time | x real time | motion's speed vs this (wall) | CPU time | motion vs this (CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for preset, name, wall, cpu in rows:
        by_wall = wall / figures[f"motion_{preset}_s"]
        by_cpu = cpu / figures[f"motion_{preset}_cpu_s"]
        lines.append(f"| {name} | {wall:.1f} s | {length / wall:.2f}x | {by_wall:.2f}x | {cpu:.1f} s | {by_cpu:.2f}x |")
    write_section(
        "Motion engine: a2v music video of a song",
        f"A {length:.0f} s procedural song at {WIDTH}x{HEIGHT}, {FPS} fps, H.264 yuv420p + AAC 192k, on "
        f"{machine()}; FFmpeg {_ffmpeg_version()} renders the same mix with the same x264 settings and CRF 20 in "
        "the same run. Command: `make bench` (or `python -m benchmarks.video`; "
        "`CADENZA_BENCH_VIDEO_SECONDS` shortens the song). 'motion vs this' above 1 means the motion "
        "engine was faster (or used less CPU: user + system seconds of every thread, which a busy machine "
        f"inflates less than wall time). Load average (1 min) {load[0]:.1f} at the start, {load[-1]:.1f} at the "
        "end.\n\n" + "\n".join(lines),
    )
    return figures


def _x264(settings: tuple[str, str]) -> str:
    preset, params = settings
    return f"x264 {preset}" + (f" {params}" if params else "")


def _ffmpeg_version() -> str:
    if not shutil.which("ffmpeg"):
        return "(not installed)"
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout
    return out.split()[2] if out else "?"


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
