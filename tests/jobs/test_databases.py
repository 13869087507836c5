"""The job record on both backends: SQLite (embedded) and a real PostgreSQL server started by the tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from cadenza.config import Settings
from cadenza.errors import NotFound
from cadenza.jobs import worker
from cadenza.jobs.db import SchemaOutOfDate, engine_for, ensure_schema, head_revision, schema_revision, upgrade
from cadenza.jobs.models import Job
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store


def _service(tmp_path: Path, database_url: str | None) -> JobService:
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    settings.home.mkdir(exist_ok=True)
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


def test_migrations_build_the_schema_from_an_empty_database(tmp_path: Path, database_url: str | None) -> None:
    url = Settings(home=tmp_path, database_url=database_url).database
    assert schema_revision(url)[0] is None
    head = upgrade(url)
    assert schema_revision(url) == (head, head)
    tables = set(inspect(engine_for(url)).get_table_names())
    assert {"jobs", "artifacts", "uploads", "workers", "alembic_version"} <= tables
    assert upgrade(url) == head  # a second upgrade is a no-op


def test_the_quick_schema_check_agrees_with_alembic(tmp_path: Path, database_url: str | None) -> None:
    """The start-up check reads the head from the migration files and the stamp with one SELECT: it must
    say what Alembic says, create an empty database, pass a current one and refuse an older one."""
    url = Settings(home=tmp_path, database_url=database_url).database
    ensure_schema(url)  # empty: migrated
    current, alembic_head = schema_revision(url)
    assert head_revision() == alembic_head == current
    ensure_schema(url)  # current: nothing to do
    with engine_for(url).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000_older'"))
    with pytest.raises(SchemaOutOfDate, match=r"0000_older.*cadenza db upgrade"):
        ensure_schema(url)


def test_json_and_timestamps_read_back_the_same(tmp_path: Path, database_url: str | None) -> None:
    service = _service(tmp_path, database_url)
    before = datetime.now(UTC)
    job = service.submit(
        task="generate", engine="noop", input={"prompt": "ünïcode ♫ 'quoted'", "duration": 7}, enqueue=False
    )
    stored = service.get(job.id)
    assert stored.request["prompt"] == "ünïcode ♫ 'quoted'" and stored.request["duration"] == 7
    created = stored.created_at if stored.created_at.tzinfo else stored.created_at.replace(tzinfo=UTC)
    assert abs((created - before).total_seconds()) < 5


def test_a_job_is_claimed_by_exactly_one_of_many_racing_workers(tmp_path: Path, database_url: str | None) -> None:
    service = _service(tmp_path, database_url)
    jobs = [service.submit(task="generate", engine="noop", input={"prompt": f"{i}"}, enqueue=False) for i in range(5)]
    winners: dict[str, list[str]] = {job.id: [] for job in jobs}
    start = threading.Barrier(8)

    def race(name: str) -> None:
        start.wait()
        for job in jobs:
            if service.store.claim(job.id, f"host:1:{name}"):
                winners[job.id].append(name)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(names) == 1 for names in winners.values()), winners
    assert service.store.count("running") == 5


def test_a_job_runs_to_its_artifacts_and_a_late_result_is_discarded(tmp_path: Path, database_url: str | None) -> None:
    service = _service(tmp_path, database_url)
    job = service.submit(task="generate", input={"prompt": "short folk", "duration": 5}, enqueue=False)
    finished = worker.run_job(service.settings, service.store, job.id)
    assert finished is not None and finished.status == "succeeded", finished and finished.error_message
    assert {a.role for a in finished.artifacts} >= {"mix", "midi"}
    assert all((service.settings.home / a.path).stat().st_size == a.bytes for a in finished.artifacts)
    # A worker that lost the job (another claimed it since) cannot record a second result.
    assert not service.store.succeed(job.id, "cut-off-host:9:late", [], {"late": True})
    again = service.get(job.id)
    assert again.recipe == finished.recipe and len(again.artifacts) == len(finished.artifacts)


def test_the_sqlite_file_reader_reads_what_a_session_reads(tmp_path: Path) -> None:
    """GET /api/v1/jobs/{id} on SQLite reads through the stdlib driver; every column of the job and of
    its artifacts must come back as the ORM session returns them (JSON, datetimes, booleans, nulls)."""
    from cadenza.jobs.models import Artifact

    service = _service(tmp_path, None)
    store = service.store
    assert store.reader is not None
    job = service.submit(task="generate", engine="noop", input={"prompt": "ünïcode ♫"}, enqueue=False)
    store.claim(job.id, "host:1:w")
    mix = Artifact(
        id="a1", job_id=job.id, position=0, kind="audio", role="mix", path="artifacts/x/mix.wav",
        mime="audio/wav", bytes=3, sha256="00", duration_s=1.5, sample_rate=44100,
    )  # fmt: skip
    store.succeed(job.id, "host:1:w", [mix], {"seed": 7, "notes": [1.5, None]})
    fast = store.get_job(job.id)
    reader, store.reader = store.reader, None
    try:
        slow = store.get_job(job.id)
    finally:
        store.reader = reader
    for column in Job.__table__.columns:
        assert getattr(fast, column.key) == getattr(slow, column.key), column.key
    assert len(fast.artifacts) == len(slow.artifacts) == 1
    for column in Artifact.__table__.columns:
        assert getattr(fast.artifacts[0], column.key) == getattr(slow.artifacts[0], column.key), column.key
    with pytest.raises(NotFound):
        store.get_job("0" * 32)
