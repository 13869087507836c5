"""Edit (repaint) and extend a procedural song.

A procedural song is a function of its recipe, so its score is rebuilt by replaying the recipe: the
base `generate`, then each edit or extension with its own seed. The new bars come from the new job's
seed; outside them the result's stems are the source's stems, sample for sample, except for short
crossfades at the joins.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.engines.base import RunContext, SourceAudio
from cadenza.engines.procedural import render
from cadenza.engines.procedural.compose import compose
from cadenza.engines.procedural.genre_choice import phrases
from cadenza.engines.procedural.prompt_words import INSTRUMENT_WORDS, MOODS
from cadenza.engines.procedural.score import Score
from cadenza.engines.procedural.soundfont import Renderer
from cadenza.engines.procedural.style import Style
from cadenza.errors import InputError
from cadenza.media.io import read_audio

EDIT_CROSSFADE_S = 0.05  # total, centred on each edge of a repainted range
EXTEND_CROSSFADE_S = 0.1


def _generator(seed: int) -> Callable[..., np.random.Generator]:
    return RunContext(seed=seed, scratch=Path("/nonexistent")).rng


def is_procedural(source: SourceAudio) -> bool:
    """Whether the source's recipe replays to its score: a procedural generate, edited or extended."""
    recipe = source.recipe or {}
    base, _ = operations_of(recipe)
    return recipe.get("engine") == "procedural" and base.get("task") == "generate" and bool(source.stems)


def replay(recipe: dict[str, Any]) -> tuple[Style, Score]:
    """The score of a procedural song from its recipe: the base song, then every edit and extension."""
    style = Style(**recipe["style"])
    base, operations = operations_of(recipe)
    score = compose(style, base["length_seconds"], _generator(base["seed"]))
    for operation in operations:
        prompt = operation.get("prompt", "")
        if operation["op"] == "edit":
            score = repaint(score, style, operation["start_bar"], operation["end_bar"], operation["seed"], prompt)
        else:
            score = continue_score(score, style, operation["length_seconds"], operation["seed"], prompt)
    return style, score


def restyle(style: Style, prompt: str) -> Style:
    """The song's style with what an edit or extend prompt asks for: instruments it names take their
    role, mood and energy words move density and brightness, and "solo" makes the lead busier. Genre,
    tempo, key and meter stay, so the new bars fit the song."""
    if not prompt.strip():
        return style
    text = prompt.lower()
    changed = copy.deepcopy(style)
    for _, phrase in phrases(INSTRUMENT_WORDS, text):
        role, instrument = INSTRUMENT_WORDS[phrase]
        changed.instruments[role] = instrument
    moods = [MOODS[phrase] for _, phrase in phrases(MOODS, text)]
    shift = sum(m[2] for m in moods)
    changed.energy = round(min(1.0, max(0.1, style.energy + shift)), 3)
    changed.density = round(min(1.5, max(0.6, style.density * (1.0 + 1.5 * shift))), 3)
    changed.brightness = round(style.brightness + sum(m[3] for m in moods), 3)
    if re.search(r"\bsolos?\b", text):
        changed.density = round(min(1.8, changed.density * 1.6), 3)
        changed.instruments.setdefault("lead", 65)
    return changed


def _merge_tracks(result: Score, fresh: Score, inside: Callable[[float], bool]) -> None:
    """Each of result's tracks keeps its notes outside the change and takes fresh's inside; a track only
    fresh has (an instrument the prompt brought) joins with its notes inside the change."""
    new_tracks = {t.name: t for t in fresh.tracks}
    for track in result.tracks:
        kept = [n for n in track.notes if not inside(n.start)]
        added = [n for n in new_tracks[track.name].notes if inside(n.start)] if track.name in new_tracks else []
        track.notes = sorted(kept + added, key=lambda n: n.start)
    names = {t.name for t in result.tracks}
    for track in fresh.tracks:
        if track.name not in names and any(inside(n.start) for n in track.notes):
            joined = copy.deepcopy(track)
            joined.notes = [n for n in track.notes if inside(n.start)]
            result.tracks.append(joined)


def _bar_seconds(score: Score) -> float:
    return score.seconds(score.bar_beats)


def snap(score: Score, start: float, end: float) -> tuple[int, int]:
    """Bar lines nearest to `start` and `end`; the range must lie inside the song, before its ending."""
    if start >= end:
        raise InputError(f"start ({start:g} s) must be before end ({end:g} s)")
    bar = _bar_seconds(score)
    last_bar = sum(section.bars for section in score.sections) - 1  # the final bar holds the ending
    start_bar, end_bar = round(start / bar), round(end / bar)
    if end_bar <= start_bar:
        end_bar = start_bar + 1
    if start_bar < last_bar and end_bar > last_bar:
        raise InputError(
            f"the range {start:g}-{end:g} s runs past the last bar that can be repainted: bars can be repainted "
            f"up to {last_bar * bar:.2f} s (the last bar holds the ending); end the range there or earlier"
        )
    if end_bar > last_bar or start > score.length_seconds:
        raise InputError(
            f"the range {start:g}-{end:g} s lies outside the song; bars can be repainted from 0 to "
            f"{last_bar * bar:.2f} s (the last bar holds the ending), in steps of {bar:.3f} s"
        )
    return start_bar, end_bar


def repaint(score: Score, style: Style, start_bar: int, end_bar: int, seed: int, prompt: str = "") -> Score:
    """`score` with the notes of bars [start_bar, end_bar) written afresh from `seed` (and `prompt`)."""
    fresh = compose(restyle(style, prompt), score.length_seconds, _generator(seed))
    start, end = start_bar * score.bar_beats, end_bar * score.bar_beats
    result = copy.deepcopy(score)
    _merge_tracks(result, fresh, lambda beat: start - 1e-6 <= beat < end - 1e-6)
    result.chords = [c for c in score.chords if not start <= c.start < end] + [
        c for c in fresh.chords if start <= c.start < end
    ]
    result.chords.sort(key=lambda c: c.start)
    return result


def continue_score(score: Score, style: Style, length_seconds: float, seed: int, prompt: str = "") -> Score:
    """`score` kept up to its final bar, then new sections from `seed` (and `prompt`) and an ending."""
    join = join_bar(score) * score.bar_beats
    longer = compose(restyle(style, prompt), length_seconds, _generator(seed))
    result = copy.deepcopy(score)
    result.sections, result.length_seconds = longer.sections, longer.length_seconds
    _merge_tracks(result, longer, lambda beat: beat >= join - 1e-6)
    result.chords = [c for c in score.chords if c.start < join] + [c for c in longer.chords if c.start >= join]
    return result


def join_bar(score: Score) -> int:
    return sum(section.bars for section in score.sections) - 1


def render_change(
    score: Score,
    renderer: Any,
    rng: Callable[..., np.random.Generator],
    start_beat: float,
    end_beat: float,
    textures: bool,
    check: Callable[[], None],
) -> dict[str, np.ndarray]:
    """Stems of only the notes that start in [start_beat, end_beat)."""
    partial = copy.deepcopy(score)
    for track in partial.tracks:
        track.notes = [n for n in track.notes if start_beat - 1e-6 <= n.start < end_beat - 1e-6]
    partial.textures = partial.textures if textures else []
    stems: dict[str, np.ndarray] = {}
    render.render_song(
        partial, renderer, rng, lambda name, audio: stems.__setitem__(name, audio.copy()), lambda _: None, check
    )
    return stems


def crossfade_weights(frames: int, edges: list[tuple[int, int, int]]) -> np.ndarray:
    """1 inside each (start, end) frame range, 0 outside, with linear ramps of the crossfade length."""
    weights = np.zeros(frames, dtype=np.float32)
    for start, end, ramp in edges:
        half = ramp // 2
        weights[max(0, start + half) : min(frames, end - half)] = 1.0
        for edge, rising in ((start, True), (end, False)):
            lo, hi = max(0, edge - half), min(frames, edge + half)
            if hi > lo and 0 < edge < frames:
                ramp_values = np.linspace(0, 1, hi - lo, dtype=np.float32)
                weights[lo:hi] = ramp_values if rising else ramp_values[::-1]
    return weights[:, None]


def blend(
    source: SourceAudio, new_stems: dict[str, np.ndarray], frames: int, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Each stem: the source's outside the change, the new material inside, crossfaded at the joins."""
    result = {}
    for name in sorted(set(source.stems) | set(new_stems)):
        old = np.zeros((frames, 2), np.float32)
        if name in source.stems:
            audio, _ = read_audio(source.stems[name])
            old[: min(frames, len(audio))] = audio[:frames]
        if name not in new_stems:
            result[name] = old
            continue
        result[name] = old * (1 - weights) + new_stems[name][:frames] * weights
    return result


def operations_of(recipe: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The base generate recipe and the edits and extensions applied to it since."""
    return recipe.get("base", recipe), list(recipe.get("operations", []))


def changed_stems(
    source: SourceAudio,
    score: Score,
    renderer: Renderer,
    rng: Callable[..., np.random.Generator],
    change: tuple[float, float],
    textures: bool,
    edges: list[tuple[int, int, int]],
    check: Callable[[], None],
) -> dict[str, np.ndarray]:
    """The source's stems with the notes starting in `change` (beats) rendered afresh and crossfaded in
    at `edges` (start frame, end frame, ramp)."""
    fresh = render_change(score, renderer, rng, change[0], change[1], textures, check)
    frames = render.frames_at(score.length_seconds)
    return blend(source, fresh, frames, crossfade_weights(frames, edges))
