"""Start-up: `cadenza --help`, and how long `cadenza generate` takes to reach composing, each against bare
Python (`python -c pass`) measured in the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, median, write_section

RUNS = 10

# Runs `cadenza generate` and reports the moment composing begins, then stops: what comes before it
# (interpreter, imports, settings, schema check, job record, queue, engine pick) is the start-up cost.
UNTIL_COMPOSE = """
import os, sys, time
import cadenza.engines.procedural.engine as engine
def reached(*args, **kwargs):
    print(time.time(), file=sys.stderr, flush=True)
    os._exit(0)
engine.compose = reached
sys.argv = ["cadenza", "generate", "bench start-up", "--duration", "10", "--out", sys.argv[1], "--json"]
from cadenza.cli import main
main()
"""


def wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def until_compose(env: dict[str, str], out: Path) -> float:
    start = time.time()
    result = subprocess.run(
        [sys.executable, "-c", UNTIL_COMPOSE, str(out)], env=env, capture_output=True, text=True, check=True
    )
    return float(result.stderr.strip().splitlines()[-1]) - start


def main() -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="cadenza-bench-startup-"))
    env = {**os.environ, "CADENZA_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "cadenza", "db", "upgrade"], env=env, check=True, capture_output=True)
    load = os.getloadavg()[0]
    bare, helps, composes = [], [], []
    for _ in range(RUNS):  # interleaved, so a change in the machine's load hits all three alike
        bare.append(wall([sys.executable, "-c", "pass"], env))
        helps.append(wall([sys.executable, "-m", "cadenza", "--help"], env))
        composes.append(until_compose(env, home / "out"))
    figures = {
        "bare_python_s": median(bare),
        "help_s": median(helps),
        "generate_until_compose_s": median(composes),
        "load_average": load,
    }
    rows = [
        ("bare Python (`python -c pass`)", f"{figures['bare_python_s']:.3f} s", ""),
        ("`cadenza --help`", f"{figures['help_s']:.3f} s", "< 0.25 s"),
        (
            "`cadenza generate` from process start to composing (database at the newest revision)",
            f"{figures['generate_until_compose_s']:.3f} s",
            "< 0.5 s",
        ),
    ]
    write_section(
        "Start-up",
        "\n".join(
            [
                f"Machine: {machine()}; load average {load:.1f} when the run began (other work shares the cores).",
                f"Medians of {RUNS} interleaved runs, wall clock. Command: `python -m benchmarks.startup`.",
                "",
                "| measure | value | target |",
                "|---|---:|---:|",
                *(f"| {name} | {value} | {target} |" for name, value, target in rows),
            ]
        ),
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
