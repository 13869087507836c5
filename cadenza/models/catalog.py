"""Every model an engine knows: its id, where it comes from, what it costs, and its licence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    id: str
    engine: str
    tasks: tuple[str, ...]
    repo_id: str  # Hugging Face repository it is fetched from on a connected machine
    size_gb: float  # download size
    vram_gb: float  # memory to run it at its default precision
    licence: str


CATALOG = {
    spec.id: spec
    for spec in (
        ModelSpec(
            "musicgen-small", "musicgen", ("generate", "extend"), "facebook/musicgen-small", 2.4, 4, "CC-BY-NC-4.0"
        ),
        ModelSpec(
            "musicgen-medium", "musicgen", ("generate", "extend"), "facebook/musicgen-medium", 8.0, 10, "CC-BY-NC-4.0"
        ),
        ModelSpec(
            "musicgen-large", "musicgen", ("generate", "extend"), "facebook/musicgen-large", 13.0, 16, "CC-BY-NC-4.0"
        ),
        ModelSpec(
            "musicgen-melody",
            "musicgen",
            ("generate", "extend", "cover"),
            "facebook/musicgen-melody",
            6.2,
            10,
            "CC-BY-NC-4.0",
        ),
        ModelSpec(
            "stable-audio-open-1.0",
            "stable_audio",
            ("generate",),
            "stabilityai/stable-audio-open-1.0",
            4.9,
            8,
            "Stability AI Community License",
        ),
    )
}
