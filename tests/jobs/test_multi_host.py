"""Two workers on two "hosts" (Linux network namespaces joined to this one by veth pairs, addresses in a
private range made here) sharing Redis, PostgreSQL and S3 storage with an API in the host namespace.

Fifty mixed jobs each succeed exactly once; then one worker is killed with kill -9 mid-job and the
other's link is cut mid-job: every job still ends succeeded exactly once (one record, one set of
objects) or failed with a clear reason, and nothing is lost. Every server is real and started here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from cadenza.jobs.store import Store
from tests.api.conftest import running, wait_for
from tests.servers import PostgresServer, RedisServer, S3Server, postgres_missing, wait_port


@dataclass
class Host:
    namespace: str
    link: str  # the host side of its veth pair: `ip link set <link> down` cuts it off
    gateway: str  # this machine's address as the namespace sees it


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2's `ip`")
    tag = secrets.token_hex(2)
    made: list[Host] = []
    try:
        for index in (1, 2):
            namespace, outside, inside = f"cz{tag}n{index}", f"cz{tag}h{index}", f"cz{tag}w{index}"
            gateway, address = f"10.213.{index}.1", f"10.213.{index}.2"
            try:
                _ip("netns", "add", namespace)
            except subprocess.CalledProcessError as exc:
                pytest.skip(f"`ip netns add` does not work here: {exc.stderr.decode().strip()}")
            made.append(Host(namespace, outside, gateway))
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", namespace)
            _ip("addr", "add", f"{gateway}/30", "dev", outside)
            _ip("link", "set", outside, "up")
            _ip("-n", namespace, "addr", "add", f"{address}/30", "dev", inside)
            _ip("-n", namespace, "link", "set", inside, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        yield made
    finally:
        for host in made:
            subprocess.run(["ip", "link", "del", host.link], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, timeout=30)


@pytest.fixture
def shared(hosts: list[Host]) -> Iterator[tuple[PostgresServer, RedisServer, S3Server]]:
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("moto.server", reason="the S3 test server is moto[server] (in the dev extra)")
    addresses = ("127.0.0.1", *(host.gateway for host in hosts))
    postgres = PostgresServer(listen=addresses).start()
    redis = RedisServer(" ".join(addresses)).start()
    s3 = S3Server(host="0.0.0.0").start()
    try:
        yield postgres, redis, s3
    finally:
        s3.stop()
        redis.stop()
        postgres.stop()


def _worker(host: Host | None, env: dict[str, str], log: Path) -> subprocess.Popen:
    prefix = ["ip", "netns", "exec", host.namespace] if host else []  # `ip netns exec` execs: same pid
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "cadenza", "worker", "--engines", "noop,procedural", "--concurrency", "2"],
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _env(postgres: PostgresServer, redis: RedisServer, s3: S3Server, database: str, via: str, home: Path) -> dict:
    return {
        "CADENZA_HOME": str(home),
        "CADENZA_DATABASE_URL": postgres.url(database, host=via),
        "CADENZA_QUEUE_URL": f"redis://{via}:{redis.port}/0",
        "CADENZA_STALE_AFTER_SECONDS": "4",
        **s3.env(host=via, prefix="studio"),
    }


def _wait_running_on(store: Store, ids: list[str], pid: int, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job_id in ids:
            job = store.get_job(job_id)
            if job.status == "running" and (job.worker_id or "").split(":")[1] == str(pid) and job.progress > 0.05:
                return job_id
        time.sleep(0.05)
    raise AssertionError(f"no job got going on worker {pid}")


@pytest.mark.slow
def test_two_hosts_run_every_job_exactly_once_through_a_kill_and_a_cut_link(
    tmp_path: Path, hosts: list[Host], shared: tuple[PostgresServer, RedisServer, S3Server]
) -> None:
    postgres, redis, s3 = shared
    database = postgres.database()
    api_env = _env(postgres, redis, s3, database, "127.0.0.1", tmp_path / "api")
    wait_port(hosts[0].gateway, redis.port)
    bucket = boto3.client("s3", endpoint_url=s3.endpoint("127.0.0.1"), **s3._credentials())
    store = Store(postgres.url(database))
    workers: list[subprocess.Popen] = []

    def objects(job_id: str) -> set[str]:
        listed = bucket.list_objects_v2(Bucket=s3.bucket, Prefix=f"studio/artifacts/{job_id}/").get("Contents", [])
        return {item["Key"].removeprefix("studio/") for item in listed}

    with running(tmp_path / "api", workers=0, env=api_env) as api, api.client() as client:
        try:
            for index, host in enumerate(hosts):
                env = _env(postgres, redis, s3, database, host.gateway, tmp_path / f"host{index}")
                workers.append(_worker(host, env, tmp_path / f"worker{index}.log"))

            # 1. Fifty mixed jobs, each succeeds exactly once, on both hosts.
            ids = []
            for i in range(50):
                body = {"prompt": f"folk {i}", "duration": 5} if i % 4 == 0 else None
                ids.append(
                    client.post("/api/v1/generate", json=body).json()["id"]
                    if body
                    else client.post("/api/v1/jobs", json={"task": "generate", "engine": "noop", "input": {}}).json()[
                        "id"
                    ]
                )
            finished = [wait_for(client, job_id, ("succeeded", "failed"), 180) for job_id in ids]
            assert all(job["status"] == "succeeded" and job["attempts"] == 1 for job in finished), [
                (job["status"], job["attempts"], job["error"]) for job in finished if job["status"] != "succeeded"
            ]
            owners = {store.get_job(job_id).worker_id.split(":")[1] for job_id in ids}
            assert owners == {str(w.pid) for w in workers}, "both hosts should have taken jobs"
            for job in finished:
                assert objects(job["id"]) == {a.path for a in store.get_job(job["id"]).artifacts}

            # 2. Longer jobs; kill -9 one host's worker mid-job, cut the other's link mid-job.
            long_ids = [
                client.post("/api/v1/generate", json={"prompt": f"slow ballad {i}", "duration": 30}).json()["id"]
                for i in range(4)
            ]
            killed = _wait_running_on(store, long_ids, workers[0].pid)
            workers[0].send_signal(signal.SIGKILL)
            cut = _wait_running_on(store, long_ids, workers[1].pid)
            _ip("link", "set", hosts[1].link, "down")
            # A third worker, on this host, picks up what the other two lost once their beats are stale.
            rescue_env = _env(postgres, redis, s3, database, "127.0.0.1", tmp_path / "host3")
            workers.append(_worker(None, rescue_env, tmp_path / "worker3.log"))
            for job_id in (killed, cut):
                done = wait_for(client, job_id, ("succeeded", "failed"), 240)
                assert done["status"] == "succeeded" and done["attempts"] == 2, done
            _ip("link", "set", hosts[1].link, "up")  # the cut-off worker comes back with its late result

            ends = [wait_for(client, job_id, ("succeeded", "failed", "cancelled"), 300) for job_id in long_ids]
            for job in ends:
                record = store.get_job(job["id"])
                assert record.status in ("succeeded", "failed"), record.status
                if record.status == "failed":
                    assert record.error_category == "interrupted" and "worker stopped" in record.error_message
                else:  # one record, one set of objects: the cut-off attempt's late files are removed
                    named = {a.path for a in record.artifacts}
                    deadline = time.monotonic() + 90  # the late worker finishes its render, uploads, then deletes
                    while objects(job["id"]) != named and time.monotonic() < deadline:
                        time.sleep(1)
                    assert objects(job["id"]) == named
                    assert {a.role for a in record.artifacts} >= {"mix", "midi"}
            assert store.count("queued") == 0 and store.count("running") == 0
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait(15)
