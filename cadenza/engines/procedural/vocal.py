"""A lead vocal line for lyrics: sections laid out from the tags, one note per syllable, phrases aligned
to lyric lines, and the chorus melody repeating with its words.

Each lyric line is sung over two bars; the pitches follow the chords (chord tones on strong beats)
and come from a generator keyed by the section kind and line number, so a repeated chorus sings the
same tune to the same words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache

import numpy as np

from cadenza.engines.lyrics.sheet import Section as LyricSection
from cadenza.engines.procedural.score import Note, Score, Section
from cadenza.engines.procedural.theory import nearest_pitch, scale_pitch_classes
from cadenza.errors import InputError

BARS_PER_LINE = 2
SONG_KINDS = {
    "verse": "verse",
    "chorus": "chorus",
    "bridge": "bridge",
    "prechorus": "prechorus",
    "intro": "intro",
    "outro": "bridge",
}


@cache
def _cmu():
    import pronouncing

    pronouncing.init_cmu()
    return pronouncing


_VOWELS = "[aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýœ]+"


def syllabify(word: str, language: str = "en") -> list[str]:
    """The word split into as many pieces as it has syllables (the CMU dictionary's count in English,
    eSpeak NG's vowel nuclei in other languages), pieces cut after vowel groups."""
    if language == "en":
        phones = _cmu().phones_for_word(word.lower().strip("'"))
        count = _cmu().syllable_count(phones[0]) if phones else max(1, len(re.findall(_VOWELS, word.lower())))
    else:
        from cadenza.engines.procedural.speech import syllable_count

        count = syllable_count(word, language)
    groups = [m.end() for m in re.finditer(_VOWELS, word.lower())]
    if count <= 1 or len(groups) < 2:
        return [word]
    # Cut where a vowel group ends, before the consonant that starts the next syllable ("in-side").
    ends = groups[:-1]
    chosen = [ends[round(i * (len(ends) - 1) / max(1, count - 2))] for i in range(count - 1)] if count > 2 else []
    if count == 2:
        chosen = [ends[0]]
    cuts = []
    for cut in chosen:
        rest = word[cut:]
        consonants = len(rest) - len(rest.lstrip("bcdfghjklmnpqrstvwxzßçñ"))
        cuts.append(cut + max(0, consonants - 1))
    cuts = sorted({c for c in cuts if 0 < c < len(word)})
    pieces = [word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True)]
    return [p for p in pieces if p] or [word]


def line_syllables(line: str, language: str = "en") -> list[str]:
    """Syllables as MIDI lyric events write them: a hyphen ends every piece but a word's last."""
    pieces = []
    for word in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)*", line):
        parts = syllabify(word, language)
        pieces += [f"{part}-" for part in parts[:-1]] + [parts[-1]]
    return pieces


def plan_sections(
    lyrics: list[LyricSection], total_bars: int, seconds_for: Callable[[int], float] | None = None
) -> list[Section]:
    """Song sections from the lyric tags: an instrumental intro, each lyric section two bars a line, then
    an outro holding the ending. Spare bars lengthen intro and outro. `seconds_for(bars)` is the duration
    that many bars need, for the message that names it."""
    sung = [(SONG_KINDS.get(s.kind, "verse"), BARS_PER_LINE * len(s.lines)) for s in lyrics]
    needed = sum(bars for _, bars in sung) + 2
    if needed > total_bars:
        longer = f"a duration of at least {math.ceil(seconds_for(needed))} s" if seconds_for else "a longer duration"
        raise InputError(
            f"these lyrics need {needed} bars ({len(lyrics)} sections, {sum(len(s.lines) for s in lyrics)} lines, "
            f"two bars a line, plus intro and ending) but the duration holds {total_bars}; ask for {longer}, "
            "a faster tempo, or fewer lines"
        )
    spare = total_bars - needed
    intro = 1 + spare // 2
    outro = total_bars - intro - sum(bars for _, bars in sung)
    sections, bar = [Section("intro", 0, intro, 0.45)], intro
    for kind, bars in sung:
        energy = {"chorus": 0.95, "bridge": 0.6, "prechorus": 0.75}.get(kind, 0.65)
        sections.append(Section(kind, bar, bars, energy))
        bar += bars
    sections.append(Section("outro", bar, outro, 0.5))
    return sections


def sing(
    score: Score, lyrics: list[LyricSection], rng: Callable[..., np.random.Generator]
) -> tuple[list[Note], list[tuple[float, str]], list[tuple[float, str]]]:
    """Vocal notes, lyric events (beat, syllable) and line starts (beat, text) for the planned score."""
    sung_sections = [s for s in score.sections if s.kind not in ("intro", "outro")]
    notes, events, lines = [], [], []
    for section, lyric in zip(sung_sections, lyrics, strict=True):
        for index, text in enumerate(lyric.lines):
            start = (section.start_bar + index * BARS_PER_LINE) * score.bar_beats
            line_notes, line_events = sing_line(score, start, text, rng("vocal", lyric.kind, index, text))
            if line_events:
                lines.append((start, text))
            notes += line_notes
            events += line_events
    return notes, events, lines


def sing_line(
    score: Score, start: float, text: str, generator: np.random.Generator
) -> tuple[list[Note], list[tuple[float, str]]]:
    """One lyric line sung over two bars from `start` (beats): a note per syllable, chord tones on strong
    beats, from `generator`. A line's last syllable, when held two beats or more, is sung as a melisma:
    a second note a step away, sung legato on the same vowel (a note without a lyric)."""
    from cadenza.engines.procedural.singer import VOICES

    voice = VOICES.get(score.voice, VOICES["alto"])
    low, high = voice.low, voice.high
    scale = scale_pitch_classes(score.key)
    syllables = line_syllables(text, score.vocal_language)
    notes: list[Note] = []
    events: list[tuple[float, str]] = []
    if not syllables:
        return notes, events
    span = BARS_PER_LINE * score.bar_beats - 1.0  # a breath before the next line
    step = 0.5 if len(syllables) * 0.5 <= span else max(0.25, span / len(syllables))
    pitch = nearest_pitch([score.key.tonic], (low + high) / 2, low, high)
    for position, syllable in enumerate(syllables):
        beat = start + position * step
        last = position == len(syllables) - 1
        duration = (start + span - beat) if last else step * 0.9
        chord = score.chord_at(beat)
        target = pitch + float(generator.choice([-3, -2, -1, 0, 1, 2, 3]))
        strong = abs(beat - round(beat)) < 1e-6
        pitch = nearest_pitch(chord.tones if strong or last else scale, target, low, high)
        velocity = 96 if strong else 84
        if last and duration >= 2.0:
            first = round(duration / 2 * 2) / 2
            turn = nearest_pitch(scale, pitch + (2 if pitch < (low + high) / 2 else -2), low, high)
            notes.append(Note(beat, first, turn if turn != pitch else pitch, velocity, syllable))
            notes.append(Note(beat + first, duration - first, pitch, velocity - 6, None))
        else:
            notes.append(Note(beat, duration, pitch, velocity, syllable))
        events.append((beat, syllable))
    return notes, events
