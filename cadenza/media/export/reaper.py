"""A REAPER project (.rpp): one track per stem, all aligned at zero, with the song's tempo and meter."""

from __future__ import annotations

from pathlib import Path


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def write_rpp(
    path: Path, *, stems: dict[str, Path], bpm: float, meter: tuple[int, int], sample_rate: int, length_s: float
) -> Path:
    """`stems` maps track names to audio files; paths are written relative to the project."""
    lines = [
        '<REAPER_PROJECT 0.1 "7.0" 0',
        f"  TEMPO {bpm:g} {meter[0]} {meter[1]}",
        f"  SAMPLERATE {sample_rate} 0 0",
    ]
    for name, audio in stems.items():
        relative = audio.relative_to(path.parent).as_posix()
        lines += [
            "  <TRACK",
            f"    NAME {_quote(name)}",
            "    <ITEM",
            "      POSITION 0",
            f"      LENGTH {length_s:.6f}",
            f"      NAME {_quote(name)}",
            "      <SOURCE WAVE",
            f"        FILE {_quote(relative)}",
            "      >",
            "    >",
            "  >",
        ]
    lines.append(">")
    path.write_text("\n".join(lines) + "\n")
    return path
