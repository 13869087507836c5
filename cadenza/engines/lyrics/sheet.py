"""The lyric sheet every writer returns: tagged sections, one line per sung phrase.

[Verse 1]
we walk beneath the silver rain
...
[Chorus]
...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECTION_NAMES = {
    "verse": "Verse",
    "chorus": "Chorus",
    "bridge": "Bridge",
    "prechorus": "Pre-Chorus",
    "pre-chorus": "Pre-Chorus",
    "intro": "Intro",
    "outro": "Outro",
    "hook": "Chorus",
}
_TAG = re.compile(r"^\s*[\[(]?\s*(verse|chorus|bridge|pre-?chorus|intro|outro|hook)\s*(\d*)\s*[\])]?\s*:?\s*$", re.I)


@dataclass
class Section:
    kind: str  # verse, chorus, bridge, ...
    lines: list[str] = field(default_factory=list)


def render_sheet(sections: list[Section]) -> str:
    counts: dict[str, int] = {}
    blocks = []
    for section in sections:
        counts[section.kind] = counts.get(section.kind, 0) + 1
        title = SECTION_NAMES.get(section.kind, section.kind.title())
        numbered = section.kind == "verse" or (section.kind not in ("chorus",) and counts[section.kind] > 1)
        tag = f"[{title} {counts[section.kind]}]" if numbered else f"[{title}]"
        blocks.append("\n".join([tag, *section.lines]))
    return "\n\n".join(blocks) + "\n"


def parse_sheet(text: str) -> list[Section]:
    """Sections from tagged text, tolerant of the shapes people and models write (`Verse 1:`, `(Chorus)`)."""
    sections: list[Section] = []
    tagged = any(_TAG.match(raw.strip().strip("*").strip()) for raw in text.splitlines())
    for raw in text.splitlines():
        line = raw.strip().strip("*").strip()
        if not line:
            continue
        match = _TAG.match(line)
        if match:
            kind = match.group(1).lower().replace("pre-chorus", "prechorus").replace("prechorus", "prechorus")
            sections.append(Section("chorus" if kind == "hook" else kind))
        elif sections:
            sections[-1].lines.append(line)
        elif not tagged:  # untagged text is one verse; before the first tag it is the model's preamble
            sections.append(Section("verse", [line]))
    return [s for s in sections if s.lines]
