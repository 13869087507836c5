"""/metrics in Prometheus format from a real server: jobs, run-time histograms, workers, latency."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import running, wait_for


def _samples(text: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        f"{s.name}{dict(sorted(s.labels.items()))}": s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_describe_jobs_workers_and_requests_behind_the_token(tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    with running(tmp_path / "home", workers=1, env={"CADENZA_API_TOKEN": "t0ken"}) as api:
        with api.client() as anonymous:
            assert anonymous.get("/metrics").status_code == 401
        with api.client("t0ken") as client:
            ids = [client.post("/api/v1/jobs", json={"task": "generate", "engine": "noop", "input": {}}).json()["id"]]
            ids.append(client.post("/api/v1/generate", json={"prompt": "folk", "duration": 5}).json()["id"])
            assert all(wait_for(client, i, ("succeeded", "failed"))["status"] == "succeeded" for i in ids)
            response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples["cadenza_jobs{'status': 'succeeded'}"] == 2
    assert samples["cadenza_jobs{'status': 'queued'}"] == 0
    assert samples["cadenza_job_run_seconds_count{'engine': 'procedural', 'task': 'generate'}"] == 1
    assert samples["cadenza_job_run_seconds_sum{'engine': 'procedural', 'task': 'generate'}"] > 0
    assert samples["cadenza_workers{}"] == 1
    assert any(k.startswith("cadenza_worker_device_free_bytes") and v > 0 for k, v in samples.items())
    posts = "cadenza_http_request_seconds_count{'method': 'POST', 'route': '/api/v1/jobs', 'status': '202'}"
    assert samples.get(posts) == 1
