"""Who may reach the server: no DNS rebinding, no cross-site writes, throttled sign-ins, and no remote
client of a server without a token, however the app was started."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server, free_port, running, stored
from tests.api.test_jobs_http import wav_bytes

EVIL = "http://evil.example"


def test_foreign_hosts_and_cross_site_writes_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running(home, workers=0) as idle, idle.client() as client:
        job = client.post("/api/v1/jobs", json={"task": "generate", "engine": "noop", "input": {}}).json()
        before = stored(home)

        for host in ("evil.example", f"evil.example:{idle.port}", "127.0.0.1.evil.example"):
            rebound = client.get("/api/v1/jobs", headers={"Host": host})
            assert rebound.status_code == 400, host
            error = rebound.json()["error"]
            assert error["code"] == "bad_host" and repr(host) in error["message"]
            assert "CADENZA_ALLOWED_HOSTS" in error["message"]
        assert client.get("/health", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/api/v1/jobs", headers={"Host": f"localhost:{idle.port}"}).status_code == 200

        # A page on another site posting a "simple" request (no preflight) to cancel, and uploading.
        cancel = client.post(
            f"/api/v1/jobs/{job['id']}/cancel", content=b"x", headers={"Origin": EVIL, "Content-Type": "text/plain"}
        )
        assert cancel.status_code == 403
        assert "cross-origin request refused: Origin 'http://evil.example'" in cancel.json()["error"]["message"]
        upload = client.post(
            "/api/v1/uploads", files={"file": ("a.wav", wav_bytes(1.0), "audio/wav")}, headers={"Origin": EVIL}
        )
        assert upload.status_code == 403
        assert client.delete(f"/api/v1/jobs/{job['id']}", headers={"Origin": "null"}).status_code == 403
        read = client.get("/api/v1/jobs", headers={"Origin": EVIL})
        assert read.status_code == 200 and "access-control-allow-origin" not in read.headers  # CORS stays closed
        assert stored(home) == before

        own = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers={"Origin": idle.url})
        assert own.status_code == 200 and own.json()["status"] == "cancelled"


def test_a_configured_origin_may_call_the_api(tmp_path: Path) -> None:
    env = {"CADENZA_CORS_ORIGINS": "https://app.example", "CADENZA_ALLOWED_HOSTS": "studio.lan"}
    with running(tmp_path / "home", workers=0, env=env) as idle, idle.client() as client:
        headers = {"Origin": "https://app.example"}
        submitted = client.post("/api/v1/jobs", json={"task": "lyrics", "input": {"theme": "x"}}, headers=headers)
        assert submitted.status_code == 202
        assert submitted.headers["access-control-allow-origin"] == "https://app.example"
        assert client.get("/api/v1/jobs", headers={"Host": "studio.lan:8000"}).status_code == 200


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("studio") / "home"
    server = Server(home, workers=0, env={"CADENZA_API_TOKEN": "s3cret"}, ui=True).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_studio_refuses_foreign_hosts_and_origins(studio: Server) -> None:
    with studio.client() as client:
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        login = client.post("/login", data={"username": "a", "password": "s3cret"}, headers={"Origin": EVIL})
        assert login.status_code == 403
        assert (
            client.get("/api/v1/nothing-here", headers={"Authorization": "Bearer s3cret"}).json()["error"]["code"]
            == "not_found"
        )


def test_wrong_studio_sign_ins_are_throttled(studio: Server) -> None:
    with httpx.Client(base_url=studio.url, timeout=30) as client:
        statuses = [
            client.post("/login", data={"username": "a", "password": f"guess{i}"}).status_code for i in range(5)
        ]
        assert statuses == [400] * 5
        started = time.monotonic()
        throttled = [client.post("/login", data={"username": "a", "password": f"more{i}"}) for i in range(25)]
        elapsed = time.monotonic() - started
        assert throttled[0].status_code == 429
        assert "too many wrong sign-ins from this address (5); try again in" in throttled[0].json()["error"]["message"]
        # Every guess that gets through doubles the wait, so of a burst only a logarithmic few reach the
        # password check however slow the machine is (all 25 are refused when the burst takes under 1 s).
        reached = [r for r in throttled if r.status_code != 429]
        assert all(r.status_code == 400 for r in reached) and len(reached) <= 1 + math.log2(1 + elapsed)
        # Even the right password waits: a guesser learns nothing during the back-off.
        refused = client.post("/login", data={"username": "a", "password": "s3cret"})
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert 1 <= wait <= 300
        time.sleep(wait + 0.6)  # Retry-After is whole seconds, rounded
        signed_in = client.post("/login", data={"username": "a", "password": "s3cret"})
        assert signed_in.status_code == 200
        assert client.post("/login", data={"username": "a", "password": "wrong"}).status_code == 400  # count cleared


def test_an_app_started_by_uvicorn_without_a_token_answers_only_loopback_clients(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CADENZA_HOME": str(tmp_path / "home")}
    env.pop("CADENZA_API_TOKEN", None)
    command = [sys.executable, "-m", "uvicorn", "--factory", "cadenza.api.app:create_app", "--host", "0.0.0.0"]
    log = (tmp_path / "uvicorn.log").open("wb")
    process = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, (tmp_path / "uvicorn.log").read_text()
            time.sleep(0.2)
        # A public client, as a reverse proxy on this machine reports it (uvicorn trusts 127.0.0.1's headers).
        remote = httpx.get(f"{url}/api/v1/jobs", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
        assert remote.status_code == 403
        message = remote.json()["error"]["message"]
        assert "no CADENZA_API_TOKEN" in message and "203.0.113.9" in message
        assert httpx.get(f"{url}/api/v1/jobs", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(15)
