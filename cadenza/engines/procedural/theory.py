"""Scales, roman-numeral chords and voice leading."""

from __future__ import annotations

import itertools
import re

from cadenza.engines.procedural.score import Chord
from cadenza.tasks import Key

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
NUMERALS = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7}
_CHORD_RE = re.compile(r"^(b?)(iii|ii|iv|i|vii|vi|v)(o|m7b5|maj7|7)?$", re.IGNORECASE)


def scale_pitch_classes(key: Key) -> list[int]:
    return [(key.tonic + step) % 12 for step in SCALES[key.mode]]


def parse_chord(symbol: str, key: Key, add_seventh: bool = False) -> tuple[int, tuple[int, ...]]:
    """Root pitch class and chord tones (root first) of a roman numeral in `key`.

    Upper case is a major third and lower case a minor one, whatever the mode, so `V` in a minor key is
    the harmonic-minor dominant; `o` and `m7b5` diminish the fifth; `7` adds the diatonic seventh.
    """
    match = _CHORD_RE.match(symbol)
    if not match:
        raise ValueError(f"bad chord symbol {symbol!r}")
    flat, numeral, suffix = match.groups()
    degree = NUMERALS[numeral.lower()]
    scale = SCALES[key.mode]
    reference = SCALES["major"] if flat else scale
    root = (key.tonic + reference[degree - 1] - (1 if flat else 0)) % 12
    third = 4 if numeral.isupper() else 3
    fifth = 6 if suffix in ("o", "m7b5") else 7
    tones = [0, third, fifth]
    if suffix in ("7", "maj7", "m7b5") or (add_seventh and suffix != "o"):
        if suffix == "maj7":
            seventh = 11
        elif (numeral.upper() == "V" and numeral.isupper()) or suffix == "m7b5":
            seventh = 10
        else:
            diatonic = (scale[(degree - 1 + 6) % 7] - scale[degree - 1]) % 12
            seventh = 10 if (third == 3 and diatonic == 11) else diatonic
        tones.append(seventh)
    return root, tuple((root + t) % 12 for t in tones)


def make_chord(symbol: str, key: Key, start: float, duration: float, add_seventh: bool) -> Chord:
    root, tones = parse_chord(symbol, key, add_seventh)
    return Chord(start, duration, root, tones, symbol)


def voice(tones: tuple[int, ...], previous: list[int] | None, low: int, high: int) -> list[int]:
    """The voicing of `tones` inside [low, high] that moves least from `previous` (smooth voice leading)."""
    candidates = []
    for octaves in itertools.product((0, 1, 2), repeat=len(tones)):
        pitches = sorted(low - low % 12 + t + 12 * o for t, o in zip(tones, octaves, strict=True))
        pitches = [p if p >= low else p + 12 for p in pitches]
        pitches.sort()
        if pitches[-1] <= high and len(set(pitches)) == len(pitches) and pitches[-1] - pitches[0] <= 14:
            candidates.append(pitches)
    if not candidates:
        return sorted(low + ((t - low) % 12) for t in tones)
    center = (low + high) / 2
    if previous is None or len(previous) != len(tones):
        return min(candidates, key=lambda c: (abs(sum(c) / len(c) - center), c))
    return min(candidates, key=lambda c: (sum(abs(a - b) for a, b in zip(c, previous, strict=True)), c))


def nearest_pitch(pitch_classes: list[int] | tuple[int, ...], target: float, low: int, high: int) -> int:
    """The pitch in [low, high] whose class is in `pitch_classes`, closest to `target`."""
    options = [p for p in range(low, high + 1) if p % 12 in pitch_classes]
    return min(options, key=lambda p: (abs(p - target), p))


def in_range(pitch_class: int, low: int, high: int) -> int:
    """The lowest pitch of `pitch_class` at or above `low` (wrapping below `high`)."""
    pitch = low + (pitch_class - low) % 12
    return pitch if pitch <= high else pitch - 12
