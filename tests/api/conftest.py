"""A real `cadenza serve` process on a free port, with its own data dir."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(
        self,
        home: Path,
        workers: int = 1,
        env: dict[str, str] | None = None,
        ui: bool = False,
        args: tuple[str, ...] = (),
    ) -> None:
        self.home, self.workers, self.extra_env, self.ui, self.args = home, workers, env or {}, ui, args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = home.parent / f"serve-{self.port}.log"

    def start(self) -> Server:
        env = {**os.environ, "CADENZA_HOME": str(self.home), **self.extra_env}
        command = [sys.executable, "-m", "cadenza", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        command += ["--ui" if self.ui else "--no-ui", *self.args]
        self.process = subprocess.Popen(command, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cadenza serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("cadenza serve did not come up in 180 s")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def running(home: Path, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(home, workers, env).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    """One server per module, on the embedded SQLite and again on a real PostgreSQL server."""
    env = {}
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres_server")
        env["CADENZA_DATABASE_URL"] = postgres.url(postgres.database())
    with running(tmp_path_factory.mktemp("serve") / "home", workers=2, env=env) as started:
        yield started


def wait_for(client: httpx.Client, job_id: str, statuses: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


def stored(where: Path | Server) -> dict[str, list]:
    """What a server keeps (given its home or the server): job and upload rows, on whichever database it
    uses, and the files under uploads/ and artifacts/ (a refused request must leave all of it as it was)."""
    import sqlalchemy

    home = where.home if isinstance(where, Server) else where
    url = where.extra_env.get("CADENZA_DATABASE_URL") if isinstance(where, Server) else None
    engine = sqlalchemy.create_engine(url or f"sqlite:///{home / 'cadenza.db'}")
    try:
        with engine.connect() as db:
            jobs = [
                tuple(row) for row in db.execute(sqlalchemy.text("SELECT id, status, request FROM jobs ORDER BY id"))
            ]
            uploads = [
                tuple(row) for row in db.execute(sqlalchemy.text("SELECT id, sha256, path FROM uploads ORDER BY id"))
            ]
    finally:
        engine.dispose()
    files = sorted(
        str(path.relative_to(home))
        for folder in ("uploads", "artifacts")
        if (home / folder).exists()
        for path in (home / folder).rglob("*")
    )
    return {"jobs": jobs, "uploads": uploads, "files": files}
