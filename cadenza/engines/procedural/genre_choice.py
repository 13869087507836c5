"""Which genre a prompt asks for, and why; and the key a genre and mood lean to when none is named.

Every prompt resolves to a genre with a stated reason, in this order: the genre named by the request,
a genre's name or alias in the text, the genre whose scene, instrument and mood words the text uses
most, a word that reads like a genre name (a typo), a mood that suits a genre, and only then the
default, saying that nothing pointed anywhere.
"""

from __future__ import annotations

import difflib
import itertools
import re
import zlib

import numpy as np

from cadenza.engines.procedural.genres import DEFAULT_GENRE, GENRES, Genre
from cadenza.errors import InputError
from cadenza.tasks import Key

# a mood named with no genre -> the genre that suits it
MOOD_GENRES = {
    "happy": "pop",
    "uplifting": "trance",
    "bright": "pop",
    "hopeful": "indie rock",
    "sad": "lofi",
    "melancholic": "lofi",
    "dark": "trip hop",
    "moody": "trip hop",
    "nostalgic": "synthwave",
    "epic": "cinematic",
    "heroic": "cinematic",
    "angry": "heavy metal",
    "aggressive": "heavy metal",
    "energetic": "edm",
    "calm": "ambient",
    "chill": "lofi",
    "dreamy": "shoegaze",
    "romantic": "r&b",
    "mysterious": "trip hop",
    "tense": "cinematic",
    "intense": "drill",
    "gentle": "folk",
    "soft": "folk",
    "mellow": "lo-fi jazz",
    "hype": "trap",
    "groovy": "funk",
    "lonely": "blues",
    "warm": "soul",
}


def phrases(table: dict[str, object] | set[str], text: str) -> list[tuple[int, str]]:
    """(position, phrase) of each phrase of `table` in text, longest phrases claiming their words first."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for phrase in sorted(table, key=len, reverse=True):
        for match in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text):
            span = match.span()
            if not any(span[0] < end and start < span[1] for start, end in taken):
                taken.append(span)
                found.append((span[0], phrase))
    return sorted(found)


def find_genre(name: str) -> Genre:
    cleaned = name.strip().lower().replace("_", " ")
    for genre in GENRES.values():
        if cleaned in (genre.name, *genre.aliases) or cleaned.replace("-", " ") in (genre.name, *genre.aliases):
            return genre
    raise InputError(f"unknown genre {name!r}; accepted: {', '.join(GENRES)}")


def _by_keywords(text: str) -> tuple[Genre, list[str]] | None:
    scores: dict[str, tuple[int, list[str]]] = {}
    for genre in GENRES.values():
        hits = [phrase for _, phrase in phrases(set(genre.keywords), text)]
        if hits:
            scores[genre.name] = (sum(len(h.split()) for h in hits), hits)
    if not scores:
        return None
    best = max(scores, key=lambda name: scores[name][0])  # ties: the earlier (better known) genre
    return GENRES[best], scores[best][1]


def _by_spelling(text: str) -> tuple[Genre, str, str] | None:
    aliases = {alias: genre for genre in GENRES.values() for alias in (genre.name, *genre.aliases) if len(alias) >= 4}
    words = re.findall(r"[\w&'-]+", text)
    candidates = [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]
    for word in candidates:
        if len(word) < 5:
            continue
        close = difflib.get_close_matches(word, list(aliases), n=1, cutoff=0.8)
        if close:
            return aliases[close[0]], word, close[0]
    return None


def resolve_genre(asked: str | None, text: str, moods: list[str]) -> tuple[Genre, str]:
    """The genre for a request and the reason, as the recipe and the CLI state it."""
    if asked:
        return find_genre(asked), f'asked for "{asked}"'
    aliases = {alias: genre for genre in GENRES.values() for alias in (*genre.aliases, genre.name)}
    named = phrases(aliases, text)
    if named:
        return aliases[named[0][1]], f'matched "{named[0][1]}"'
    keywords = _by_keywords(text)
    if keywords:
        return keywords[0], f'closest to "{" ".join(keywords[1])}"'
    spelled = _by_spelling(text)
    if spelled:
        return spelled[0], f'"{spelled[1]}" reads like "{spelled[2]}"'
    for mood in moods:
        if mood in MOOD_GENRES:
            return GENRES[MOOD_GENRES[mood]], f'no genre named; the mood "{mood}" suits it'
    if text.strip():
        return GENRES[DEFAULT_GENRE], f"nothing in the prompt names or suggests a genre; {DEFAULT_GENRE} is the default"
    return GENRES[DEFAULT_GENRE], f"no prompt; {DEFAULT_GENRE} is the default"


BRIGHT_TONICS = (4, 9, 2, 11, 6)  # sharp keys ring on guitars and brass: bright moods lean to them
DARK_TONICS = (5, 10, 3, 8, 1)  # flat keys: dark and sad moods lean to them


def default_key(genre: Genre, mode_votes: list[str], brightness_shift: float, seed: int | None) -> Key:
    """A key drawn from all 24: the mode from the mood or the genre's habit, the tonic weighted towards
    the genre's favourite tonics and the mood's side of the circle of fifths. Each genre draws from its
    own stream of the seed, so genres at one seed land in different keys."""
    rng = np.random.default_rng([seed or 0, zlib.crc32(genre.name.encode())])
    if mode_votes:
        mode = mode_votes[0]
    else:
        mode = genre.mode if rng.random() < 0.8 else ("minor" if genre.mode == "major" else "major")
    weights = np.ones(12)
    for rank, tonic in enumerate(genre.tonics):
        weights[tonic] += 4.0 / (rank + 1)
    lean = BRIGHT_TONICS if brightness_shift > 0 else DARK_TONICS if brightness_shift < 0 else ()
    for tonic in lean:
        weights[tonic] *= 1.0 + min(2.0, abs(brightness_shift))
    tonic = int(rng.choice(12, p=weights / weights.sum()))
    return Key(tonic, mode)  # type: ignore[arg-type]
