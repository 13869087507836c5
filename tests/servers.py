"""Real servers the scale-out tests start: PostgreSQL (initdb + pg_ctl), redis-server and an S3 server.

Each runs in a temporary directory on a free port and is stopped by its fixture. PostgreSQL refuses to
run as root, so as root it runs as the `postgres` user (Debian's package creates it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import ClassVar

PG_BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout} s")


def postgres_binary(name: str) -> str | None:
    for folder in PG_BIN_DIRS:
        if os.path.exists(f"{folder}/{name}"):
            return f"{folder}/{name}"
    return shutil.which(name)


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot run here, or None."""
    if postgres_binary("initdb") is None or postgres_binary("pg_ctl") is None:
        return "PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql; .ci/run does)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user for the server to run as"
    return None


class PostgresServer:
    """A throwaway cluster; `database()` creates a fresh, empty database and returns its URL."""

    def __init__(self, listen: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.listen = listen
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cadenza-pg-"))  # not under pytest's 0700 tmp: postgres reads it
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        self._run(
            postgres_binary("initdb") or "initdb", "-D", str(self.data), "-U", "cadenza", "-A", "trust", "-E", "UTF8"
        )
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 10.0.0.0/8 trust\n")  # the test's own network namespaces
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses='{','.join(self.listen)}' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            postgres_binary("pg_ctl") or "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "start",
        )
        return self

    def url(self, database: str = "postgres", host: str = "127.0.0.1") -> str:
        return f"postgresql+psycopg://cadenza@{host}:{self.port}/{database}"

    def database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=cadenza dbname=postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(postgres_binary("pg_ctl") or "pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        """`host`: one address, or several separated by spaces (redis-server binds them all)."""
        self.host, self.port = host, free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.host.split()[0], self.port)
        return self

    def url(self, host: str | None = None) -> str:
        return f"redis://{host or self.host.split()[0]}:{self.port}/0"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class S3Server:
    """moto's S3-protocol server (a real HTTP server speaking the S3 API) with one bucket."""

    ACCESS: ClassVar[dict[str, str]] = {
        "AWS_ACCESS_KEY_ID": "cadenza",
        "AWS_SECRET_ACCESS_KEY": "cadenza-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def __init__(self, host: str = "127.0.0.1", bucket: str = "cadenza") -> None:
        self.host, self.port, self.bucket = host, free_port(), bucket
        self.process: subprocess.Popen | None = None

    def start(self) -> S3Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        local = "127.0.0.1" if self.host == "0.0.0.0" else self.host
        wait_port(local, self.port, 60)
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint(local), **self._credentials()).create_bucket(Bucket=self.bucket)
        return self

    def _credentials(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.ACCESS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.ACCESS["AWS_SECRET_ACCESS_KEY"],
            "region_name": "us-east-1",
        }

    def endpoint(self, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}"

    def env(self, host: str | None = None, prefix: str = "run") -> dict[str, str]:
        """What a Cadenza process needs to keep its artifacts in this server's bucket."""
        return {
            **self.ACCESS,
            "CADENZA_STORAGE_URL": f"s3://{self.bucket}/{prefix}",
            "CADENZA_S3_ENDPOINT_URL": self.endpoint(host),
        }

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen:
    """A `cadenza worker` process with `env` over this one's environment (its output discarded)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cadenza", "worker", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_process(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `grace` seconds (a loaded machine is slow to)."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
