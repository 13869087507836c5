"""Shared fixtures: an isolated data dir per test, and songs rendered once per session."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from cadenza.config import Settings, load_settings
from cadenza.engines.base import RunContext
from cadenza.engines.procedural import render
from cadenza.engines.procedural.compose import compose
from cadenza.engines.procedural.score import Score
from cadenza.engines.procedural.soundfont import pick_renderer
from cadenza.engines.procedural.style import Style, resolve_style
from cadenza.tasks import GenerateRequest

if TYPE_CHECKING:
    from cadenza.jobs.service import JobService

SAMPLE_RATE = render.SAMPLE_RATE


def _bundled_soundfont() -> str:
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    assert spec and spec.submodule_search_locations
    return str(Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2")


# Every test renders with the SoundFont that every fresh install has (the one inside pretty_midi's
# wheel), so results do not depend on which Debian SoundFonts the machine happens to carry. Set before
# any test runs, so the servers and CLI processes the tests start inherit it too.
os.environ["CADENZA_SOUNDFONT"] = _bundled_soundfont()


def job_service(home: Path) -> JobService:
    """A job service over a new data dir at `home`, its schema in place: what tests run jobs through."""
    from cadenza.jobs.db import ensure_schema
    from cadenza.jobs.service import JobService
    from cadenza.jobs.store import Store

    settings = Settings(home=home)
    settings.home.mkdir(parents=True)
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("CADENZA_HOME", str(home))
    return load_settings(home=home)


def compose_song(seed: int = 3, **fields: object) -> tuple[Style, Score]:
    request = GenerateRequest(seed=seed, **fields)
    style = resolve_style(request)
    ctx = RunContext(seed=seed, scratch=Path("/nonexistent"))
    return style, compose(style, request.duration, ctx.rng)


@cache
def _render(seed: int, items: tuple[tuple[str, object], ...]) -> tuple[Style, Score, np.ndarray, dict[str, np.ndarray]]:
    style, score = compose_song(seed, **dict(items))
    ctx = RunContext(seed=seed, scratch=Path("/nonexistent"))
    stems: dict[str, np.ndarray] = {}
    premix = render.render_song(
        score,
        pick_renderer(),
        ctx.rng,
        lambda name, audio: stems.__setitem__(name, audio.copy()),
        lambda _: None,
        lambda: None,
    )
    return style, score, premix, stems


def render_premix(seed: int = 3, **fields: object) -> tuple[Style, Score, np.ndarray, dict[str, np.ndarray]]:
    """The pre-master mix and stems of a song (cached: several tests listen to the same songs)."""
    return _render(seed, tuple(sorted(fields.items())))


# -- real servers for the scale-out tests (tests/servers.py) ----------------------------------------------
@pytest.fixture(scope="session")
def postgres_server():
    from tests.servers import PostgresServer, postgres_missing

    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_server():
    import shutil

    from tests.servers import RedisServer

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for the embedded SQLite default, or a fresh database on a real PostgreSQL server."""
    if request.param == "sqlite":
        return None
    server = request.getfixturevalue("postgres_server")
    return server.url(server.database())
