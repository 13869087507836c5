"""Understanding the prompt, and refusing what cannot be honoured."""

from __future__ import annotations

import pytest

from cadenza.engines.procedural.genres import GENRES
from cadenza.engines.procedural.style import resolve_style
from cadenza.errors import InputError
from cadenza.tasks import GenerateRequest, parse_request


def style_of(prompt: str = "", **fields: object):
    return resolve_style(GenerateRequest(prompt=prompt, seed=1, **fields))


def test_the_example_prompt_is_understood() -> None:
    style = style_of("melancholic lofi hip hop, 84 bpm, A minor, warm rhodes and vinyl crackle")
    assert style.genre == "lofi"
    assert style.mood == "melancholic"
    assert style.bpm == 84
    assert style.key == "A minor"
    assert style.instruments["chords"] == 4  # Electric Piano 1, the Rhodes
    assert "vinyl" in style.textures


@pytest.mark.parametrize(
    ("prompt", "genre"),
    [
        ("deep house for a rooftop", "house"),
        ("drum and bass", "dnb"),
        ("an epic orchestral trailer", "cinematic"),
        ("solo piano nocturne", "classical"),
        ("80s synthwave drive", "synthwave"),
        ("bossa nova, nylon guitar", "bossa nova"),
    ],
)
def test_genres_are_recognised_in_free_text(prompt: str, genre: str) -> None:
    assert style_of(prompt).genre == genre


def test_explicit_options_override_the_text() -> None:
    style = style_of("lofi, 84 bpm, A minor, 3/4", bpm=90, key="F# major", time_signature="4/4", genre="jazz")
    assert (style.genre, style.bpm, style.key, style.time_signature) == ("jazz", 90, "F# major", "4/4")


def test_unknown_words_are_ignored() -> None:
    style = style_of("flibbertigibbet quantum marmalade")
    assert style.genre in GENRES


def test_waltz_means_three_four() -> None:
    assert style_of("a gentle waltz").time_signature == "3/4"


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"key": "H major"}, "expected a tonic A-G"),
        ({"bpm": 900}, "accepted: 40 to 240"),
        ({"duration": 0}, "greater than or equal to 5"),
        ({"duration": 601}, "less than or equal to 600"),
        ({"time_signature": "7/3"}, "accepted: 2/4, 3/4, 4/4"),
        ({"format": "ogg"}, "'wav', 'flac' or 'mp3'"),
    ],
)
def test_values_that_cannot_be_honoured_are_clear_errors(fields: dict, complaint: str) -> None:
    with pytest.raises(InputError) as error:
        parse_request("generate", {"prompt": "pop", **fields})
    assert complaint in error.value.message
    assert next(iter(fields)) in error.value.message


def test_an_unknown_genre_lists_the_accepted_ones() -> None:
    with pytest.raises(InputError, match="unknown genre 'polka'; accepted: pop, rock, lofi"):
        style_of(genre="polka")


def test_an_impossible_tempo_in_the_prompt_is_an_error() -> None:
    with pytest.raises(InputError, match="900 bpm"):
        style_of("techno at 900 bpm")
