"""Database engine and sessions, SQLite tuned for concurrent writers, and the schema check."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from cadenza.errors import CadenzaError


class SchemaOutOfDate(CadenzaError):
    category = "internal"


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL and process. Write transactions in store.py start with their write, so
    SQLite's deferred transactions never need to upgrade a read lock (which cannot wait)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=20)

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return _server_engine(url)


def pool_size() -> int:
    """Connections each process keeps open to a database server: CADENZA_DB_POOL_SIZE, set per process
    (`cadenza worker` sizes it from its concurrency), so many hosts do not exhaust the server's slots."""
    return max(2, int(os.environ.get("CADENZA_DB_POOL_SIZE", "10")))


def _server_engine(url: str) -> Engine:
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):
        # A host cut off mid-query must notice within seconds (TCP keepalives), not after the kernel's
        # two hours, and a new connection to an unreachable server gives up after 10 s. The server ends
        # a session of ours idle inside a transaction for 10 s: a host cut off between a write and its
        # commit would otherwise hold that job's row lock until the server's own keepalive gives up
        # (hours), and every reaper trying to requeue the job would wait on it.
        connect_args = {
            "connect_timeout": 10,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "options": "-c idle_in_transaction_session_timeout=10000",
        }
    size = pool_size()
    return create_engine(
        url, pool_pre_ping=True, pool_size=size, max_overflow=size, pool_recycle=1800, connect_args=connect_args
    )


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 (the `postgres` extra), not SQLAlchemy's default psycopg2."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


@cache
def sessions(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def _alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "cadenza:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def schema_revision(url: str) -> tuple[str | None, str]:
    """(revision of the database, newest revision Cadenza knows)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(url)).get_current_head()
    with engine_for(url).connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head or ""


def upgrade(url: str) -> str:
    from alembic import command

    config = _alembic_config(url)
    with engine_for(url).begin() as connection:
        if connection.dialect.name == "postgresql":  # workers starting together upgrade one at a time
            connection.execute(text("SELECT pg_advisory_xact_lock(7262646)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return schema_revision(url)[1]


def head_revision() -> str:
    """The newest migration, read from the migration files' `revision` and `down_revision` lines.

    Alembic's own script directory costs ~0.2 s of imports on every start; a start whose database is
    already at this revision needs only this and one SELECT."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (Path(__file__).parent.parent / "migrations" / "versions").glob("*.py"):
        text = path.read_text()
        revisions.update(re.findall(r'^revision = "([^"]+)"', text, re.M))
        parents.update(re.findall(r'^down_revision = "([^"]+)"', text, re.M))
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    from alembic.script import ScriptDirectory  # branches or an unexpected layout: only Alembic can judge

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head() or ""


def _stored_revision(url: str) -> str | None:
    """The revision stamped in the database (None when it has no version table); one statement."""
    from sqlalchemy.exc import DBAPIError

    with engine_for(url).connect() as connection:
        try:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except DBAPIError:
            return None
    if len(rows) > 1:  # several heads: only Alembic can judge
        return schema_revision(url)[0]
    return rows[0] if rows else None


def ensure_schema(url: str) -> None:
    """Create the schema in an empty database; refuse an out-of-date one with the command to fix it."""
    head = head_revision()
    current = _stored_revision(url)
    if current == head:
        return
    if current is None:
        upgrade(url)
    else:
        raise SchemaOutOfDate(
            f"the database schema is at revision {current} but this Cadenza needs {head}; "
            "run `cadenza db upgrade` (back up the database first)"
        )
