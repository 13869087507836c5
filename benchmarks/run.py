"""`make bench`: every benchmark, figures to docs/benchmarks.md and stdout."""

from __future__ import annotations

import json

from benchmarks import generate, scaleout, service


def main() -> None:
    figures = {"procedural": generate.main(), "service": service.main(), "scaleout": scaleout.main()}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
