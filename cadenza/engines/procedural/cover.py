"""Covers: a song's melody and harmony re-arranged in another style.

The source's form, chords and melody come from its replayed score (a procedural song) or from a
transcription (other audio); the arranger writes every other part in the new style. At strength 1
melody, harmony and form are kept; below it, each two-bar phrase of melody and each section's
harmony is rewritten with probability 1 - strength.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from cadenza.engines.procedural.compose import compose
from cadenza.engines.procedural.instruments import ROLE_RANGE
from cadenza.engines.procedural.score import Chord, Note, Score, Section
from cadenza.engines.procedural.style import Style

PHRASE_BARS = 2


def transpose_chords(chords: list[Chord], semitones: int) -> list[Chord]:
    return [
        Chord(c.start, c.duration, (c.root + semitones) % 12, tuple((t + semitones) % 12 for t in c.tones), c.symbol)
        for c in chords
    ]


def fit_register(notes: list[Note], semitones: int, low: int, high: int) -> list[Note]:
    """The melody moved by `semitones`, then by octaves so that most of it sits in [low, high]."""
    if not notes:
        return []
    moved = [Note(n.start, n.duration, n.pitch + semitones, n.velocity) for n in notes]
    centre = float(np.median([n.pitch for n in moved]))
    shift = 12 * round(((low + high) / 2 - centre) / 12)
    return [Note(n.start, n.duration, min(high + 12, max(low - 12, n.pitch + shift)), n.velocity) for n in moved]


def arrange_cover(
    style: Style,
    length_seconds: float,
    rng: Callable[..., np.random.Generator],
    form: list[Section],
    chords: list[Chord],
    melody: list[Note],
    strength: float,
) -> Score:
    """A new arrangement in `style` that keeps the source's form, and its harmony and melody by `strength`."""
    chooser = rng("cover", "strength")
    fresh = compose(style, length_seconds, rng, form=form)
    keep_sections = [section for section in form if chooser.random() < strength]
    bar_beats = fresh.bar_beats

    def kept(beat: float) -> bool:
        return any(s.start_bar * bar_beats <= beat < (s.start_bar + s.bars) * bar_beats for s in keep_sections)

    harmony = [c for c in chords if kept(c.start)] + [c for c in fresh.chords if not kept(c.start)]
    harmony.sort(key=lambda c: c.start)
    score = compose(style, length_seconds, rng, form=form, harmony=harmony)
    lead = next((t for t in score.tracks if t.role == "lead"), None)
    if lead is None:
        return score
    low, high = ROLE_RANGE["lead"]
    phrase = PHRASE_BARS * bar_beats
    last_phrase = int(max((n.start for n in melody), default=0) // phrase) + 1
    keep_phrases = {index for index in range(last_phrase) if chooser.random() < strength}
    source_line = fit_register(melody, 0, low, high)
    lead.notes = sorted(
        [copy.copy(n) for n in source_line if int(n.start // phrase) in keep_phrases]
        + [n for n in lead.notes if int(n.start // phrase) not in keep_phrases],
        key=lambda n: n.start,
    )
    return score
