"""Edit (repaint) and extend a procedural song.

A procedural song is a function of its recipe, so its score is rebuilt by replaying the recipe: the
base `generate` (with its lyrics), then each edit or extension with its own seed. The new bars come
from the new job's seed; outside them the result's stems are the source's stems, sample for sample,
except for short crossfades at the joins. A song with lyrics keeps its words: a repainted range sings
the lines that fall in it to a new tune over the new chords, and an extension keeps the vocal and sings
the chorus again in the new choruses.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.engines.base import RunContext, SourceAudio
from cadenza.engines.lyrics.sheet import Section as LyricSection
from cadenza.engines.lyrics.sheet import parse_sheet
from cadenza.engines.procedural import render, vocal
from cadenza.engines.procedural.compose import compose
from cadenza.engines.procedural.genre_choice import phrases
from cadenza.engines.procedural.prompt_words import INSTRUMENT_WORDS, MOODS
from cadenza.engines.procedural.score import Score, Section
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
    lyrics = lyrics_of(recipe)
    score = compose(style, base["length_seconds"], _generator(base["seed"]), lyrics)
    for operation in operations:
        prompt = operation.get("prompt", "")
        if operation["op"] == "edit":
            score = repaint(score, style, operation["start_bar"], operation["end_bar"], operation["seed"], prompt)
        else:
            score = continue_score(score, style, operation["length_seconds"], operation["seed"], prompt, lyrics)
    return style, score


def lyrics_of(recipe: dict[str, Any]) -> list[LyricSection] | None:
    """The lyric sheet the base song was generated with, or None for an instrumental."""
    base, _ = operations_of(recipe)
    text = (base.get("request") or {}).get("lyrics")
    return parse_sheet(text) or None if text and text.strip() else None


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
    changed = restyle(style, prompt)
    start, end = start_bar * score.bar_beats, end_bar * score.bar_beats

    def inside(beat: float) -> bool:
        return start - 1e-6 <= beat < end - 1e-6

    sung = _sung(score)
    if sung:
        # The new bars follow the song's own form (its sections come from the lyric tags), and the singer
        # keeps the tune: a lead instrument joins only when the prompt names one.
        fresh = compose(changed, score.length_seconds, _generator(seed), form=score.sections)
        if changed.instruments.get("lead") == style.instruments.get("lead"):
            fresh.tracks = [t for t in fresh.tracks if t.role != "lead"]
    else:
        fresh = compose(changed, score.length_seconds, _generator(seed))
    result = copy.deepcopy(score)
    _merge_tracks(result, fresh, inside)
    result.chords = [c for c in score.chords if not start <= c.start < end] + [
        c for c in fresh.chords if start <= c.start < end
    ]
    result.chords.sort(key=lambda c: c.start)
    if sung:
        _resing(result, inside, _generator(seed))
    return result


def _sung(score: Score) -> bool:
    return any(t.role == "vocal" for t in score.tracks) and bool(score.lyric_lines)


def _resing(score: Score, inside: Callable[[float], bool], rng: Callable[..., np.random.Generator]) -> None:
    """The lyric lines with a syllable in the repainted range, sung to a new tune over its new chords:
    the same words on the same beats, only the notes inside the range taken."""
    track = next(t for t in score.tracks if t.role == "vocal")
    span = vocal.BARS_PER_LINE * score.bar_beats
    added, events = [], []
    for index, (start, text) in enumerate(score.lyric_lines):
        if not any(inside(start + k * 0.25) for k in range(round(span / 0.25))):
            continue
        notes, line_events = vocal.sing_line(score, start, text, rng("vocal", "repaint", index, text))
        added += [n for n in notes if inside(n.start)]
        events += [e for e in line_events if inside(e[0])]
    track.notes = sorted(track.notes + added, key=lambda n: n.start)
    score.lyric_events = sorted([e for e in score.lyric_events if not inside(e[0])] + events, key=lambda e: e[0])


def continue_score(
    score: Score,
    style: Style,
    length_seconds: float,
    seed: int,
    prompt: str = "",
    lyrics: list[LyricSection] | None = None,
) -> Score:
    """`score` kept up to its final bar, then new sections from `seed` (and `prompt`) and an ending. A song
    with lyrics keeps its form and vocal, and its new choruses sing the chorus's words again."""
    join = join_bar(score) * score.bar_beats
    longer = compose(restyle(style, prompt), length_seconds, _generator(seed))
    result = copy.deepcopy(score)
    sung = _sung(score)
    result.sections = _spliced(score.sections, longer.sections, join_bar(score)) if sung else longer.sections
    result.length_seconds = longer.length_seconds
    _merge_tracks(result, longer, lambda beat: beat >= join - 1e-6)
    result.chords = [c for c in score.chords if c.start < join] + [c for c in longer.chords if c.start >= join]
    if sung and lyrics:
        _sing_again(result, lyrics, join_bar(score), _generator(seed))
    return result


def _spliced(kept: list[Section], new: list[Section], join: int) -> list[Section]:
    """The kept song's sections up to bar `join`, then the new arrangement's from there."""
    head = [Section(s.kind, s.start_bar, min(s.bars, join - s.start_bar), s.energy) for s in kept if s.start_bar < join]
    tail = []
    for section in new:
        end = section.start_bar + section.bars
        if end > join:
            start = max(section.start_bar, join)
            tail.append(Section(section.kind, start, end - start, section.energy))
    return head + tail


CHORUS_KINDS = ("chorus", "drop")


def _sing_again(score: Score, lyrics: list[LyricSection], join: int, rng: Callable[..., np.random.Generator]) -> None:
    """The chorus's lines sung in the new choruses (or the first new body section when none is a chorus),
    two bars a line, in place of the lead instrument there; lines that do not fit before the ending wait."""
    chorus = next((s for s in lyrics if s.kind == "chorus" and s.lines), None) or next(
        (s for s in reversed(lyrics) if s.lines), None
    )
    ending = join_bar(score)
    new = [s for s in score.sections if s.start_bar >= join and s.start_bar < ending]
    hosts = [s for s in new if s.kind in CHORUS_KINDS] or [
        s for s in new if s.kind not in ("intro", "outro", "build", "breakdown")
    ][:1]
    if chorus is None or not hosts:
        return
    track = next(t for t in score.tracks if t.role == "vocal")
    for section in hosts:
        end_bar = min(section.start_bar + section.bars, ending)
        for index, text in enumerate(chorus.lines):
            bar = section.start_bar + index * vocal.BARS_PER_LINE
            if bar + vocal.BARS_PER_LINE > end_bar:
                break
            start = bar * score.bar_beats
            notes, events = vocal.sing_line(score, start, text, rng("vocal", chorus.kind, index, text))
            if not events:
                continue
            track.notes += notes
            score.lyric_events += events
            score.lyric_lines.append((start, text))
            stop = start + vocal.BARS_PER_LINE * score.bar_beats
            for lead in (t for t in score.tracks if t.role == "lead"):  # the singer has the tune here
                lead.notes = [n for n in lead.notes if not start - 1e-6 <= n.start < stop - 1e-6]
    track.notes.sort(key=lambda n: n.start)
    score.lyric_events.sort(key=lambda e: e[0])
    score.lyric_lines.sort(key=lambda line: line[0])
    score.tracks = [t for t in score.tracks if t.notes]


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
