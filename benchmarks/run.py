"""`make bench`: every benchmark, figures to docs/benchmarks.md and stdout."""

from __future__ import annotations

import json

from benchmarks import comfyui, generate, scaleout, service, singing, startup, video


def main() -> None:
    figures = {
        "procedural": generate.main(),
        "singing": singing.main(),
        "startup": startup.main(),
        "service": service.main(),
        "scaleout": scaleout.main(),
        "video": video.main(),
        "comfyui": comfyui.main(),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
