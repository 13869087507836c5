"""schemathesis drives every operation of the OpenAPI document with generated input."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from cadenza.api.app import create_app
from cadenza.config import load_settings
from tests.api.conftest import Server


def test_no_operation_answers_with_a_server_error(tmp_path: Path) -> None:
    # No embedded workers: generated jobs stay queued instead of rendering.
    config = load_settings(home=tmp_path, max_queue_depth=10_000, api_token="fuzz", allowed_hosts=["testserver"])
    app = create_app(config, workers=0)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case) -> None:
            if case.path.endswith("/events"):
                case.path_parameters = {"job_id": "does-not-exist"}  # a live stream would never end
            response = case.call(headers={"Authorization": "Bearer fuzz"})
            # An engine that cannot run here (a video engine without its package) is a documented 503.
            unavailable = response.status_code == 503 and response.json()["error"]["code"] == "unavailable"
            assert response.status_code < 500 or unavailable, (case.method, case.path, response.text[:300])

        exercise()


# The schemathesis command, with anyio's lazily built modules built before its worker threads start:
# CPython 3.11's compile() can fail with "AST constructor recursion depth mismatch" when two threads
# compile at once, which anyio's first attribute lookup does.
SCHEMATHESIS = """
import anyio, anyio.abc
for module in (anyio, anyio.abc):
    for name in dir(module):
        getattr(module, name, None)
from schemathesis.cli import schemathesis
raise SystemExit(schemathesis())
"""


# Two schemathesis processes, one per half of the document, so that both cores generate (one process's
# worker threads share one interpreter lock, and generating and checking a request costs the client
# several times what answering it costs the server). One worker thread each: with two, CPython 3.11
# failed a coverage case with "AST constructor recursion depth mismatch" (threads compiling at once).
# Each half keeps the operations that link to each other (a job and its cancel, events and delete; an
# upload or adapter and its reads), so the stateful phase still follows them. Examples per operation
# are set in schemathesis.toml.
HALVES = {
    "jobs": ("--include-path-regex", "^/api/v1/jobs"),
    "rest": ("--exclude-path-regex", "^/api/v1/jobs"),
}
REQUESTS_WANTED = 10_000


def schemathesis_run(url: str, arguments: tuple[str, ...]) -> list[str]:
    config = Path(__file__).with_name("schemathesis.toml")
    return [
        sys.executable, "-c", SCHEMATHESIS, "--config-file", str(config), "run", f"{url}/openapi.json",
        "--checks", "all", "--header", "Authorization: Bearer fuzz", *arguments,
        "--workers", "1", "--seed", "1", "--no-color",
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_contract_holds_for_ten_thousand_generated_requests(tmp_path: Path) -> None:
    """`schemathesis run --checks all` against a real server: responses match the document (status,
    body schema, media type, Allow), invalid data is refused, valid data accepted (see schemathesis.toml
    for the checks a schema cannot express), no 5xx, and authentication is enforced."""
    env = {"CADENZA_API_TOKEN": "fuzz", "CADENZA_MAX_QUEUE_DEPTH": "100000"}
    server = Server(tmp_path / "home", workers=0, env=env, args=("--access-log",)).start()
    runs: dict[str, subprocess.Popen] = {}
    try:
        # The first request that needs an engine imports its module (listing the engines imports them
        # all), which can take longer than schemathesis's 10 s request timeout on a loaded machine.
        with server.client("fuzz") as client:
            assert client.get("/api/v1/engines").status_code == 200
            warm = client.post("/api/v1/jobs", json={"task": "generate", "input": {"prompt": "warm up"}})
            assert warm.status_code == 202, warm.text
        started, cpu = time.monotonic(), _children_cpu()
        for half, arguments in HALVES.items():
            log = (tmp_path / f"{half}.log").open("w")
            runs[half] = subprocess.Popen(schemathesis_run(server.url, arguments), stdout=log, stderr=subprocess.STDOUT)
        codes = {half: run.wait(timeout=900) for half, run in runs.items()}
        seconds, cpu = time.monotonic() - started, _children_cpu() - cpu
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
        server.stop()
    for half, code in codes.items():
        summary = (tmp_path / f"{half}.log").read_text()[-3000:]
        assert code == 0, summary
        assert "failures" not in summary.split("SUMMARY")[-1] or " 0 failures" in summary, summary
    answers = re.findall(r'HTTP/1.1" (\d{3})', server.log.read_text())
    requests = len(answers) - 3  # less /health and the warm-up
    assert requests >= REQUESTS_WANTED, f"only {requests} requests were sent"
    assert {status for status in answers if status.startswith("5")} <= {"503"}, "a 5xx other than 503"
    print(f"{requests} requests in {seconds:.0f} s, {cpu:.0f} s of schemathesis CPU")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
