"""Which SoundFont and which renderer this machine can use, best first; and the exact one a recipe names.

A recipe pins what it played: `NAME@sha256:HEX` for a SoundFont, `builtin` for the built-in synthesiser.
A replay plays a file with that sha256 wherever it is installed, or is refused: never another SoundFont,
since installing a package (Debian's fluidsynth brings FluidR3_GM) would otherwise change every replay.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cadenza.errors import EngineUnavailable, InputError

# Debian's packages, best first; pretty_midi's bundled TimGM6mb is the last resort that always exists.
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)
# Where distributions install SoundFonts (Debian, Fedora and Arch), searched for a pinned one.
SYSTEM_SOUNDFONT_DIRS = (
    "/usr/share/sounds/sf3",
    "/usr/share/sounds/sf2",
    "/usr/share/soundfonts",
    "/usr/local/share/soundfonts",
)
SUFFIXES = (".sf2", ".sf3")
BUILTIN = "builtin"
PIN_PATTERN = r"^(builtin|[^/@]+@sha256:[0-9a-f]{64})$"
# Where the SoundFonts Cadenza picks by itself come from, for the message that asks to install one.
PACKAGES = {
    "MuseScore_General.sf3": "`apt install musescore-general-soundfont-small`",
    "FluidR3_GM.sf2": "`apt install fluid-soundfont-gm`",
    "TimGM6mb.sf2": "`pip install pretty_midi` (its wheel carries it) or `apt install timgm6mb-soundfont`",
}

_hashes: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class Renderer:
    kind: str  # "soundfont" or "builtin"
    soundfont: Path | None
    note: str  # what a user reads in `cadenza engines`

    @property
    def sha256(self) -> str | None:
        return file_sha256(self.soundfont) if self.soundfont is not None else None

    @property
    def pin(self) -> str:
        """What a recipe records so that a replay plays exactly this: `NAME@sha256:HEX` or `builtin`."""
        if self.kind != "soundfont" or self.soundfont is None:
            return BUILTIN
        return f"{self.soundfont.resolve().name}@sha256:{self.sha256}"

    def to_recipe(self) -> dict[str, str | None]:
        name = self.soundfont.resolve().name if self.soundfont is not None else None
        return {"kind": self.kind, "soundfont": name, "sha256": self.sha256}


def file_sha256(path: Path) -> str:
    """The file's sha256, computed once per (path, modification time, size) in this process."""
    resolved = path.resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if key not in _hashes:
        digest = hashlib.sha256()
        with resolved.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def _bundled_soundfont() -> Path | None:
    spec = importlib.util.find_spec("pretty_midi")
    if spec and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"
        if bundled.is_file():
            return bundled
    return None


def find_soundfont(explicit: str | None = None) -> Path | None:
    """`explicit` (or CADENZA_SOUNDFONT), then system SoundFonts, then the one inside pretty_midi's wheel."""
    wanted = explicit or os.environ.get("CADENZA_SOUNDFONT")
    if wanted:
        return Path(wanted) if Path(wanted).is_file() else None
    for candidate in SYSTEM_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    return _bundled_soundfont()


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


def soundfont_dirs() -> list[Path]:
    """The folders searched for a pinned SoundFont: the models dir's `soundfonts`, then the system's."""
    from cadenza.models.resolve import models_dir

    base = models_dir()
    return ([base / "soundfonts"] if base is not None else []) + [Path(d) for d in SYSTEM_SOUNDFONT_DIRS]


def _installed() -> list[Path]:
    """Every SoundFont file Cadenza can see: CADENZA_SOUNDFONT, the folders, pretty_midi's; each once."""
    found: dict[Path, None] = {}  # resolved, so a link (default-GM.sf2) counts as the file it names
    explicit = os.environ.get("CADENZA_SOUNDFONT")
    files = [Path(explicit)] if explicit else []
    for folder in soundfont_dirs():
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    bundled = _bundled_soundfont()
    files += [bundled] if bundled is not None else []
    for path in files:
        if path.is_file():
            found.setdefault(path.resolve(), None)
    return list(found)


def locate(name: str, sha256: str) -> Path | None:
    """An installed SoundFont whose content has this sha256; files named `name` are hashed first."""
    installed = _installed()
    for path in sorted(installed, key=lambda p: p.name != name):
        if file_sha256(path) == sha256:
            return path
    return None


def renderer_for(pin: str | None) -> Renderer:
    """The renderer a request asks for: today's best without a pin, else exactly the pinned one.

    Raises InputError naming the SoundFont, where Cadenza looked and how to install it when no file
    with the pinned sha256 is on this machine."""
    if pin is None:
        return pick_renderer()
    if pin == BUILTIN:
        return Renderer("builtin", None, "the built-in synthesiser, as the recipe asks")
    match = re.fullmatch(PIN_PATTERN, pin)
    if match is None:
        raise InputError(f"advanced.soundfont {pin!r} is not NAME@sha256:HEX (64 hex digits) or 'builtin'")
    name, sha256 = pin.split("@sha256:")
    path = locate(name, sha256)
    if path is None:
        raise InputError(_missing_message(name, sha256))
    if importlib.util.find_spec("tinysoundfont") is None:
        raise EngineUnavailable(
            f"the recipe plays the SoundFont {name}, which needs tinysoundfont: "
            "install it with `pip install --no-deps tinysoundfont`"
        )
    return Renderer("soundfont", path, f"SoundFont {path.name} via tinysoundfont (sha256 {sha256[:12]}, pinned)")


def _missing_message(name: str, sha256: str) -> str:
    explicit = os.environ.get("CADENZA_SOUNDFONT")
    looked = [f"CADENZA_SOUNDFONT ({explicit})"] if explicit else []
    looked += [str(folder) for folder in soundfont_dirs()]
    looked += ["pretty_midi's package"]
    from cadenza.models.resolve import models_dir

    target = f"{models_dir() / 'soundfonts'}/" if models_dir() is not None else "$CADENZA_MODELS_DIR/soundfonts/"
    source = f"install it with {PACKAGES[name]}, or copy" if name in PACKAGES else "copy"
    return (
        f"the recipe plays the SoundFont {name} with sha256 {sha256}, and no file with that sha256 is on this "
        f"machine (Cadenza looked in {', '.join(looked)}); {source} that exact file into {target} or point "
        "CADENZA_SOUNDFONT at it. A replay never uses another SoundFont: leave advanced.soundfont out to "
        "render with today's SoundFont instead (the audio will differ)"
    )
