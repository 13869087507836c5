"""Every model an engine knows: its id, where it comes from, what it costs, and its licence."""

from __future__ import annotations

from dataclasses import dataclass

VIDEO_TASKS = ("t2v", "i2v", "keyframe", "style")


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
        # LTX-Video: diffusers-format repositories (transformer, VAE, T5-XXL text encoder). Distilled
        # checkpoints run in about 8 steps without CFG; sizes are the bf16 download.
        ModelSpec(
            "ltx-video-0.9.7-distilled",
            "ltx",
            VIDEO_TASKS,
            "Lightricks/LTX-Video-0.9.7-distilled",
            36.0,
            24,
            "LTXV Open Weights License 0.X",
        ),
        ModelSpec(
            "ltx-video-0.9.8-13b-distilled",
            "ltx",
            VIDEO_TASKS,
            "Lightricks/LTX-Video-0.9.8-13B-distilled",
            36.0,
            24,
            "LTXV Open Weights License 0.X",
        ),
        ModelSpec(
            "ltxv-spatial-upscaler-0.9.7",
            "ltx",
            ("upsample",),
            "Lightricks/ltxv-spatial-upscaler-0.9.7",
            0.5,
            2,
            "LTXV Open Weights License 0.X",
        ),
        # LTX-2: video with its own sound (Gemma 3 text encoder, gated: accept its licence on the Hub first).
        ModelSpec("ltx-2", "ltx", VIDEO_TASKS, "Lightricks/LTX-2", 80.0, 40, "LTX-2 Community License"),
        ModelSpec("ltx-2.3", "ltx", VIDEO_TASKS, "Lightricks/LTX-2.3", 90.0, 48, "LTX-2 Community License"),
    )
}
