"""Which SoundFont and which renderer this machine can use, best first."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

# Debian's packages, best first; pretty_midi's bundled TimGM6mb is the last resort that always exists.
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)


@dataclass(frozen=True)
class Renderer:
    kind: str  # "soundfont" or "builtin"
    soundfont: Path | None
    note: str  # what a user reads in `cadenza engines`


def find_soundfont(explicit: str | None = None) -> Path | None:
    """`explicit` (or CADENZA_SOUNDFONT), then system SoundFonts, then the one inside pretty_midi's wheel."""
    wanted = explicit or os.environ.get("CADENZA_SOUNDFONT")
    if wanted:
        return Path(wanted) if Path(wanted).is_file() else None
    for candidate in SYSTEM_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    spec = importlib.util.find_spec("pretty_midi")
    if spec and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"
        if bundled.is_file():
            return bundled
    return None


def pick_renderer(explicit_soundfont: str | None = None) -> Renderer:
    soundfont = find_soundfont(explicit_soundfont)
    wanted = explicit_soundfont or os.environ.get("CADENZA_SOUNDFONT")
    if wanted and soundfont is None:
        return Renderer("builtin", None, f"SoundFont {wanted!r} not found; using the built-in synthesiser")
    if importlib.util.find_spec("tinysoundfont") is None:
        return Renderer(
            "builtin",
            None,
            "tinysoundfont is not installed, so the built-in synthesiser plays (lower quality); "
            "install it with `pip install --no-deps tinysoundfont` for sampled instruments",
        )
    if soundfont is None:
        return Renderer("builtin", None, "no SoundFont found; using the built-in synthesiser")
    return Renderer("soundfont", soundfont, f"SoundFont {soundfont.name} via tinysoundfont")
