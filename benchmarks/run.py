"""`make bench`: every benchmark, figures to docs/benchmarks.md and stdout."""

from __future__ import annotations

import json

from benchmarks import generate, service, singing


def main() -> None:
    figures = {"procedural": generate.main(), "singing": singing.main(), "service": service.main()}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
