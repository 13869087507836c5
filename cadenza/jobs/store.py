"""Queries over the job record. Every write transaction starts with its write (see db.py)."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from cadenza.errors import NotFound, QueueFull
from cadenza.jobs.db import engine_for, sessions
from cadenza.jobs.models import FINISHED, Artifact, Job, Upload, utcnow

QUEUE_LOCK_KEY = 0x63616465  # "cade": the PostgreSQL advisory lock that serialises submissions


def new_id() -> str:
    """32 hex characters that sort by creation time (milliseconds, then randomness)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


@dataclass
class JobPage:
    items: list[Job]
    next_cursor: str | None


class Store:
    def __init__(self, database_url: str) -> None:
        self.sessions = sessions(database_url)
        self.engine = engine_for(database_url)  # hot writes as plain statements, without a session
        self.local = database_url.startswith("sqlite")  # a file on this host: reads never wait on a network
        self.reader = FileReader.for_url(database_url)

    # -- jobs -----------------------------------------------------------------------------------------
    def create_job(
        self,
        *,
        task: str,
        engine: str,
        request: dict[str, Any],
        prompt: str,
        max_attempts: int,
        parent_id: str | None = None,
        idempotency_key: str | None = None,
        max_queued: int | None = None,
    ) -> tuple[Job, bool]:
        """Insert a queued job; with an idempotency key already used, return that job instead.

        With `max_queued`, the insert and the depth check are one transaction that holds the write
        lock (SQLite) or an advisory lock (PostgreSQL), so concurrent submitters never overshoot it.
        """
        job = Job(
            id=new_id(),
            task=task,
            engine=engine,
            request=request,
            prompt=prompt,
            status="queued",
            progress=0.0,
            stage="queued",
            attempts=0,
            max_attempts=max_attempts,
            cancel_requested=False,
            retries=0,
            parent_id=parent_id,
            idempotency_key=idempotency_key,
            created_at=utcnow(),
            artifacts=[],  # so the row as inserted can be returned without reading it back
        )
        try:
            with self.sessions.begin() as session:
                if max_queued is not None and session.get_bind().dialect.name == "postgresql":
                    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": QUEUE_LOCK_KEY})
                session.add(job)
                session.flush()  # the write first: from here on no other submitter can commit
                if max_queued is not None:
                    waiting = self._count(session, "queued") - 1
                    if waiting >= max_queued:
                        raise QueueFull(
                            f"the queue is full ({waiting} jobs waiting, maximum {max_queued}); retry later",
                            details={"queue_depth": waiting, "max_queue_depth": max_queued},
                        )
            return job, True
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self.job_with_key(idempotency_key)
            if existing is None:
                raise
            return existing, False

    def job_with_key(self, idempotency_key: str) -> Job | None:
        with self.sessions() as session:
            job_id = session.scalar(select(Job.id).where(Job.idempotency_key == idempotency_key))
        return self.get_job(job_id) if job_id else None

    def job_ids_starting(self, prefix: str, limit: int = 2) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.sessions() as session:
            query = select(Job.id).where(Job.id.like(f"{escaped}%", escape="\\")).order_by(Job.id).limit(limit)
            return list(session.scalars(query))

    def get_job(self, job_id: str) -> Job:
        if self.reader is not None:
            return self.reader.job(job_id)
        with self.sessions() as session:
            query = select(Job).where(Job.id == job_id).options(joinedload(Job.artifacts))  # one statement
            job = session.execute(query).unique().scalar_one_or_none()
        if job is None:
            raise NotFound(f"no job with id {job_id!r}")
        return job

    def list_jobs(
        self,
        *,
        status: str | None = None,
        task: str | None = None,
        text: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """Newest first; `cursor` is the id of the last job of the previous page."""
        query = select(Job).options(selectinload(Job.artifacts)).order_by(Job.id.desc()).limit(limit + 1)
        if status:
            query = query.where(Job.status == status)
        if task:
            query = query.where(Job.task == task)
        if text:
            query = query.where(Job.prompt.ilike(f"%{text}%"))
        if cursor:
            query = query.where(Job.id < cursor)
        with self.sessions() as session:
            jobs = list(session.scalars(query))
        more = len(jobs) > limit
        return JobPage(jobs[:limit], jobs[limit - 1].id if more else None)

    def count(self, status: str) -> int:
        with self.sessions() as session:
            return self._count(session, status)

    @staticmethod
    def _count(session: Session, status: str) -> int:
        return session.scalar(select(func.count()).select_from(Job).where(Job.status == status)) or 0

    def claim(self, job_id: str, worker_id: str) -> Job | None:
        """queued -> running for exactly one worker; None when the job is gone, cancelled or taken.

        One statement where the database can return the updated row (SQLite 3.35+, PostgreSQL); a job
        being claimed has no artifacts yet."""
        now = utcnow()
        claim = (
            update(Job)
            .where(Job.id == job_id, Job.status == "queued", Job.attempts < Job.max_attempts)
            .values(
                status="running",
                worker_id=worker_id,
                attempts=Job.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                stage="starting",
                progress=0.0,
            )
        )
        columns = list(Job.__table__.columns)
        with self.engine.begin() as connection:
            if connection.dialect.update_returning:
                row = connection.execute(claim.returning(*columns)).one_or_none()
                return None if row is None else Job(**{c.key: row._mapping[c] for c in columns}, artifacts=[])
            claimed = connection.execute(claim).rowcount
        return self.get_job(job_id) if claimed else None

    def heartbeat(self, job_id: str, worker_id: str, progress: float, stage: str) -> bool:
        """Record liveness and progress; returns whether a cancel was requested."""
        with self.engine.begin() as connection:
            connection.execute(
                update(Job)
                .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "running")
                .values(heartbeat_at=utcnow(), progress=progress, stage=stage)
            )
            return bool(connection.scalar(select(Job.cancel_requested).where(Job.id == job_id)))

    def set_budget(self, job_id: str, worker_id: str, budget_s: float) -> None:
        """The time budget of the running attempt (a budgeted engine's estimate, or the retry's double)."""
        with self.sessions.begin() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "running")
                .values(budget_s=budget_s)
            )

    def record_retry(self, job_id: str, worker_id: str, reason: str, budget_s: float) -> bool:
        """An automatic retry of a running job (after a timeout or out-of-memory), with its new budget."""
        with self.sessions.begin() as session:
            return bool(
                session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "running")
                    .values(
                        retries=Job.retries + 1,
                        retry_reason=reason,
                        budget_s=budget_s,
                        progress=0.0,
                        stage="retrying",
                        heartbeat_at=utcnow(),
                    )
                ).rowcount
            )

    def succeed(self, job_id: str, worker_id: str, artifacts: Iterable[Artifact], recipe: dict[str, Any]) -> bool:
        artifacts = list(artifacts)
        done = (
            update(Job)
            .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "running")
            .values(status="succeeded", progress=1.0, stage="done", finished_at=utcnow(), recipe=recipe)
        )
        if not artifacts:  # a plain statement: the ORM's unit of work doubled the cost of the write
            with self.engine.begin() as connection:
                return bool(connection.execute(done).rowcount)
        with self.sessions.begin() as session:
            if session.execute(done).rowcount:
                session.add_all(artifacts)
                return True
            return False

    def finish_unsuccessfully(
        self, job_id: str, worker_id: str | None, status: str, message: str | None, category: str | None
    ) -> None:
        with self.engine.begin() as connection:
            condition = [Job.id == job_id, Job.status.in_(("running", "queued"))]
            if worker_id is not None:
                condition.append(Job.worker_id == worker_id)
            connection.execute(
                update(Job)
                .where(*condition)
                .values(
                    status=status, stage=status, error_message=message, error_category=category, finished_at=utcnow()
                )
            )

    def request_cancel(self, job_id: str) -> Job:
        """A queued job is cancelled at once; a running one at its next cancellation check."""
        with self.sessions.begin() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued")
                .values(status="cancelled", stage="cancelled", cancel_requested=True, finished_at=utcnow())
            )
            session.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(cancel_requested=True))
        return self.get_job(job_id)

    def delete_job(self, job_id: str) -> bool:
        """Delete a job unless it is running, in one statement (a worker may claim it meanwhile);
        False when it is running."""
        with self.sessions.begin() as session:
            deleted = session.execute(delete(Job).where(Job.id == job_id, Job.status != "running")).rowcount
        if not deleted:
            self.get_job(job_id)  # NotFound when there was no such job
        return bool(deleted)

    def stale_running(self, older_than: timedelta) -> list[Job]:
        cutoff = datetime.now(UTC) - older_than
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Job).where(
                        Job.status == "running", or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < cutoff)
                    )
                )
            )

    def running_on(self, host_prefix: str) -> list[Job]:
        with self.sessions() as session:
            return list(
                session.scalars(select(Job).where(Job.status == "running", Job.worker_id.like(f"{host_prefix}%")))
            )

    def requeue(self, job_id: str, worker_id: str | None) -> bool:
        """running -> queued for a job whose worker died; only while attempts remain."""
        with self.sessions.begin() as session:
            return bool(
                session.execute(
                    update(Job)
                    .where(
                        Job.id == job_id,
                        Job.status == "running",
                        Job.worker_id == worker_id,
                        Job.attempts < Job.max_attempts,
                    )
                    .values(status="queued", stage="requeued", worker_id=None, progress=0.0)
                ).rowcount
            )

    def queued_ids(self) -> list[str]:
        if self.reader is not None:
            return self.reader.queued_ids()
        with self.sessions() as session:
            return list(session.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.id)))

    def stats(self) -> dict[str, Any]:
        with self.sessions() as session:
            per_status = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
            finished = session.execute(
                select(Job.engine, Job.started_at, Job.finished_at).where(
                    Job.status == "succeeded", Job.started_at.is_not(None), Job.finished_at.is_not(None)
                )
            ).all()
        run_times: dict[str, list[float]] = {}
        for engine, started, ended in finished:
            run_times.setdefault(engine, []).append((_aware(ended) - _aware(started)).total_seconds())
        return {
            "jobs_per_status": {s: per_status.get(s, 0) for s in ("queued", "running", *FINISHED)},
            "mean_run_seconds_per_engine": {e: round(sum(v) / len(v), 3) for e, v in run_times.items()},
        }

    # -- artifacts and uploads --------------------------------------------------------------------------
    def get_artifact(self, artifact_id: str) -> Artifact:
        with self.sessions() as session:
            artifact = session.get(Artifact, artifact_id)
        if artifact is None:
            raise NotFound(f"no artifact with id {artifact_id!r}")
        return artifact

    def add_upload(self, upload: Upload) -> Upload:
        with self.sessions.begin() as session:
            session.add(upload)
        return upload

    def get_upload(self, upload_id: str) -> Upload:
        with self.sessions() as session:
            upload = session.get(Upload, upload_id)
        if upload is None:
            raise NotFound(f"no upload with id {upload_id!r}")
        return upload

    def upload_with_sha(self, sha256: str) -> Upload | None:
        with self.sessions() as session:
            return session.scalar(select(Upload).where(Upload.sha256 == sha256).order_by(Upload.id).limit(1))

    def uploads_bytes(self) -> int:
        """Disk the uploads use: each stored file counted once."""
        with self.sessions() as session:
            files = select(Upload.path, func.max(Upload.bytes).label("bytes")).group_by(Upload.path).subquery()
            return int(session.scalar(select(func.coalesce(func.sum(files.c.bytes), 0))) or 0)

    def touch_upload(self, upload_id: str) -> None:
        """Mark an upload used now (`created_at` is its last upload or use): expiry counts from here."""
        with self.sessions.begin() as session:
            session.execute(update(Upload).where(Upload.id == upload_id).values(created_at=utcnow()))

    def uploads_unused_since(self, cutoff: datetime) -> list[Upload]:
        with self.sessions() as session:
            return list(session.scalars(select(Upload).where(Upload.created_at < cutoff)))

    def delete_upload(self, upload_id: str) -> bool:
        """Delete the record; True when no other upload record shares its file (then it may go)."""
        upload = self.get_upload(upload_id)
        with self.sessions.begin() as session:
            session.execute(delete(Upload).where(Upload.id == upload_id))
            others = session.scalar(select(func.count()).select_from(Upload).where(Upload.path == upload.path))
        return not others

    def sources_of_unfinished_jobs(self, fields: Iterable[str]) -> dict[str, str]:
        """{id in one of `fields`: job id} over queued and running jobs (at most the queue depth plus
        the workers, so they are read whole)."""
        with self.sessions() as session:
            rows = session.execute(select(Job.id, Job.request).where(Job.status.in_(("queued", "running")))).all()
        return {
            request[name]: job_id
            for job_id, request in rows
            if isinstance(request, dict)
            for name in fields
            if isinstance(request.get(name), str)
        }


class FileReader:
    """`get_job` on a SQLite file through the stdlib driver, one connection per thread.

    The most frequent query (every GET of a job, every event) spent ~0.9 ms in SQLAlchemy's session,
    pool and ORM loading around a 0.02 ms lookup. Values are converted by the same SQLAlchemy type
    processors the ORM uses, so the Job read here equals the one a session reads."""

    def __init__(self, path: str, dialect: Any) -> None:
        self.path, self.connections = path, threading.local()
        self.jobs, self.artifacts = _columns(Job.__table__, dialect), _columns(Artifact.__table__, dialect)
        self.job_query = f"SELECT {self.jobs.names} FROM jobs WHERE id = ?"
        self.artifact_query = f"SELECT {self.artifacts.names} FROM artifacts WHERE job_id = ? ORDER BY position"

    @classmethod
    def for_url(cls, url: str) -> FileReader | None:
        engine = engine_for(url)
        path = engine.url.database
        if engine.dialect.name != "sqlite" or not path or path == ":memory:" or engine.url.query:
            return None
        return cls(path, engine.dialect)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self.connections, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.connections.connection = connection
        return connection

    def job(self, job_id: str) -> Job:
        connection = self._connection()
        row = connection.execute(self.job_query, (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job with id {job_id!r}")
        artifacts = connection.execute(self.artifact_query, (job_id,)).fetchall()
        return Job(**self.jobs.values(row), artifacts=[Artifact(**self.artifacts.values(a)) for a in artifacts])

    def queued_ids(self) -> list[str]:
        """What idle consumers poll for, several times a second."""
        rows = self._connection().execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY id").fetchall()
        return [job_id for (job_id,) in rows]


@dataclass
class _Columns:
    keys: list[str]
    processors: list[Any]
    names: str

    def values(self, row: tuple) -> dict[str, Any]:
        return {k: (p(v) if p is not None else v) for k, p, v in zip(self.keys, self.processors, row, strict=True)}


def _columns(table: Any, dialect: Any) -> _Columns:
    columns = list(table.columns)
    return _Columns(
        [c.key for c in columns],
        [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns],
        ", ".join(c.name for c in columns),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
