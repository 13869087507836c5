"""The composer: form, genre identity, endings and hierarchical determinism."""

from __future__ import annotations

import pytest

from cadenza.engines.procedural.compose import plan_bars
from cadenza.engines.procedural.genres import GENRES
from tests.conftest import compose_song


def fingerprint(score) -> list[tuple]:
    return [(t.name, [(round(n.start, 4), n.pitch, n.velocity) for n in t.notes]) for t in score.tracks]


def test_genres_have_their_own_tempo_instruments_and_drums() -> None:
    tempi = {g.tempo[1] for g in GENRES.values()}
    programs = {tuple(sorted(g.instruments.items())) for g in GENRES.values()}
    drums = {tuple(sorted(g.drums.items())) for g in GENRES.values() if g.drums}
    assert len(GENRES) >= 14
    assert len(tempi) >= 12
    assert len(programs) == len(GENRES)
    assert len(drums) >= len([g for g in GENRES.values() if g.drums]) - 1


@pytest.mark.parametrize(("first", "second"), [("pop", "rock"), ("house", "techno"), ("jazz", "bossa nova")])
def test_two_genres_from_the_same_seed_are_different_songs(first: str, second: str) -> None:
    _, a = compose_song(5, genre=first, duration=30)
    _, b = compose_song(5, genre=second, duration=30)
    assert fingerprint(a) != fingerprint(b)
    assert {t.program for t in a.tracks} != {t.program for t in b.tracks}


def test_same_seed_same_score_and_another_seed_another_song() -> None:
    assert fingerprint(compose_song(9, genre="pop", duration=40)[1]) == fingerprint(
        compose_song(9, genre="pop", duration=40)[1]
    )
    assert fingerprint(compose_song(9, genre="pop", duration=40)[1]) != fingerprint(
        compose_song(10, genre="pop", duration=40)[1]
    )


def test_a_song_has_verse_and_chorus_and_electronic_ones_build_and_drop() -> None:
    _, pop = compose_song(1, genre="pop", duration=120)
    _, house = compose_song(1, genre="house", duration=180)
    assert {"intro", "verse", "chorus", "outro"} <= {s.kind for s in pop.sections}
    assert {"build", "drop", "breakdown"} <= {s.kind for s in house.sections}


def test_sections_fill_the_song_and_choruses_repeat_their_melody() -> None:
    style, score = compose_song(4, genre="pop", duration=150)
    total = plan_bars(150, style.bpm, score.bar_beats)
    assert sum(s.bars for s in score.sections) == total
    lead = next(t for t in score.tracks if t.role == "lead")
    choruses = [s for s in score.sections if s.kind == "chorus"]
    assert len(choruses) >= 2

    def tune(section):
        start, end = section.start_bar * score.bar_beats, (section.start_bar + 3.4) * score.bar_beats
        return [n.pitch for n in lead.notes if start <= n.start < end]

    assert tune(choruses[0]) and tune(choruses[0]) == tune(choruses[1])


def test_the_song_ends_on_the_tonic_chord_after_a_dominant() -> None:
    _style, score = compose_song(2, genre="folk", key="G major", duration=40)
    assert score.chords[-1].root == 7 and score.chords[-1].tones[1] == 11  # G major triad
    assert score.chords[-2].root == 2  # D: V -> I
    last_start = max(n.start for t in score.tracks for n in t.notes)
    assert score.seconds(last_start) < 40 - 2.0  # the last notes start early enough to ring out


def test_changing_one_section_seed_leaves_the_others_untouched() -> None:
    """Hierarchical seeds: the generator of a section is derived from (seed, section, track) only."""
    from pathlib import Path

    from cadenza.engines.base import RunContext

    ctx = RunContext(seed=1, scratch=Path("/nonexistent"))
    first = ctx.rng(3, "bar", 0).random(4)
    assert list(first) == list(ctx.rng(3, "bar", 0).random(4))
    assert list(first) != list(ctx.rng(4, "bar", 0).random(4))
    assert list(first) != list(RunContext(seed=2, scratch=Path("/x")).rng(3, "bar", 0).random(4))


def test_drum_fills_close_sections() -> None:
    _, score = compose_song(6, genre="rock", duration=60)
    drums = next(t for t in score.tracks if t.is_drum)
    verse = next(s for s in score.sections if s.kind == "verse")
    last_beat = (verse.start_bar + verse.bars) * score.bar_beats - 1
    toms_or_snares = [
        n for n in drums.notes if last_beat - 0.05 <= n.start < last_beat + 1 and n.pitch in (38, 45, 47, 50)
    ]
    assert len(toms_or_snares) >= 3
