"""`cadenza doctor`: what this machine can run, checked before any model work."""

from __future__ import annotations

import importlib.util
import platform
import shutil
import sys
from typing import Annotated, Any

import typer

from cadenza.cli.common import console, emit_json


def _torch_report() -> dict[str, Any]:
    if importlib.util.find_spec("torch") is None:
        return {"installed": False, "hint": "pip install torch==2.13.0 (CPU) or the CUDA build for your GPU"}
    import torch

    from cadenza.engines.devices import free_memory, pick_device

    report: dict[str, Any] = {
        "installed": True,
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "mps_available": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "device": pick_device(None),
        "gpus": [],
    }
    for index in range(torch.cuda.device_count() if report["cuda_available"] else 0):
        free, total = torch.cuda.mem_get_info(index)
        report["gpus"].append(
            {
                "index": index,
                "name": torch.cuda.get_device_name(index),
                "free_gb": round(free / 2**30, 1),
                "total_gb": round(total / 2**30, 1),
                "bf16": torch.cuda.is_bf16_supported(),
            }
        )
    report["free_memory_gb"] = round(free_memory(report["device"]) / 2**30, 1)
    return report


def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Python, torch and its build, CUDA/MPS/CPU, GPU memory, RAM, ffmpeg, SoundFonts, and usable engines."""
    from cadenza.engines import registry
    from cadenza.engines.devices import available_ram
    from cadenza.engines.procedural.soundfont import pick_renderer

    renderer = pick_renderer()
    report = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "ram_available_gb": round(available_ram() / 2**30, 1),
        "torch": _torch_report(),
        "ffmpeg": shutil.which("ffmpeg"),
        "soundfont": {"renderer": renderer.kind, "file": str(renderer.soundfont) if renderer.soundfont else None},
        "engines": [
            {"name": info.name, "tasks": list(info.tasks), "usable": info.available, "why": info.reason}
            for info in registry.describe()
        ],
    }
    if as_json:
        emit_json(report)
        return
    from rich.markup import escape

    torch_info = report["torch"]
    console.print(f"[bold]Python[/] {report['python']} on {report['platform']}", highlight=False)
    console.print(f"[bold]RAM available[/] {report['ram_available_gb']} GB", highlight=False)
    if torch_info["installed"]:
        console.print(
            f"[bold]torch[/] {torch_info['version']} (CUDA build {torch_info['cuda_build']}); "
            f"runs on [bold]{torch_info['device']}[/] with {torch_info['free_memory_gb']} GB free",
            highlight=False,
        )
        for gpu in torch_info["gpus"]:
            console.print(
                f"  GPU {gpu['index']}: {gpu['name']}, {gpu['free_gb']} of {gpu['total_gb']} GB free, "
                f"bf16 {'yes' if gpu['bf16'] else 'no'}",
                highlight=False,
            )
    else:
        console.print(f"[bold]torch[/] not installed: {torch_info['hint']}", highlight=False)
    console.print(f"[bold]ffmpeg[/] {report['ffmpeg'] or 'not found (mp3 export uses libsndfile)'}", highlight=False)
    console.print(
        f"[bold]SoundFont[/] {report['soundfont']['file'] or report['soundfont']['renderer']}", highlight=False
    )
    for engine in report["engines"]:
        mark = "[green]usable[/]" if engine["usable"] else "[red]not usable[/]"
        console.print(f"  {engine['name']:<11} {mark}  {escape(engine['why'])}", highlight=False)
