"""Melody from motifs: a two-bar idea, repeated and varied into phrases, chord tones on strong beats,
and a cadence at the end of each section. A motif belongs to a section kind, so every chorus sings the
same tune."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cadenza.engines.procedural.score import Note, Score
from cadenza.engines.procedural.theory import nearest_pitch, scale_pitch_classes


@dataclass
class Motif:
    onsets: list[float]  # beats from the motif start
    lengths: list[float]
    steps: list[int]  # scale steps between consecutive notes


def make_motif(rng: np.random.Generator, bar_beats: float, density: float) -> Motif:
    """A two-bar rhythm on the 8th grid and a contour of scale steps; it breathes before the next phrase."""
    slots = int(bar_beats * 2 * 2)  # 8ths in two bars
    onsets = [0.0]
    for slot in range(1, slots - 2):
        on_beat = slot % 2 == 0
        if rng.random() < density * (1.4 if on_beat else 0.7):
            onsets.append(slot * 0.5)
    while len(onsets) < 3:
        onsets = sorted({*onsets, float(rng.integers(1, slots - 2)) * 0.5})
    ends = [*onsets[1:], (slots - 1) * 0.5]
    lengths = [min(end - start, 2.0) * 0.95 for start, end in zip(onsets, ends, strict=True)]
    steps = [int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])) for _ in onsets]
    return Motif(onsets, lengths, steps)


def vary(motif: Motif, rng: np.random.Generator) -> Motif:
    """Same rhythm, a new tail: the answer to the motif's question."""
    keep = max(1, len(motif.steps) // 2)
    tail = [int(rng.choice([-2, -1, 1, 2])) for _ in motif.steps[keep:]]
    return Motif(motif.onsets, motif.lengths, motif.steps[:keep] + tail)


def realise(
    score: Score,
    motifs: list[Motif],
    start: float,
    low: int,
    high: int,
    end_on_tonic: bool,
    velocity: int = 96,
    previous: int | None = None,
) -> tuple[list[Note], int]:
    """Turn consecutive two-bar motifs starting at `start` into notes over the score's chords."""
    scale = scale_pitch_classes(score.key)
    bar_beats = score.bar_beats
    pitch = previous if previous is not None else nearest_pitch([score.key.tonic], (low + high) / 2 + 3, low, high)
    notes: list[Note] = []
    for index, motif in enumerate(motifs):
        offset = start + index * 2 * bar_beats
        for onset, length, step in zip(motif.onsets, motif.lengths, motif.steps, strict=True):
            beat = offset + onset
            target = pitch + step * 1.8
            if target > high - 2 or target < low + 2:
                target = pitch - step * 1.8
            chord = score.chord_at(beat)
            strong = onset % 2 == 0 or (onset % 1 == 0 and bar_beats < 4)
            pitch = nearest_pitch(chord.tones if strong else scale, target, low, high)
            accent = velocity if onset % bar_beats == 0 else velocity - 10
            notes.append(Note(beat, length, pitch, accent))
    if notes:
        last = notes[-1]
        chord = score.chord_at(last.start)
        goal = [score.key.tonic] if end_on_tonic else list(chord.tones[:3])
        last.pitch = nearest_pitch(goal, last.pitch, low, high)
        phrase_end = start + len(motifs) * 2 * bar_beats
        last.duration = max(last.duration, phrase_end - last.start - 0.5)
    return notes, pitch
