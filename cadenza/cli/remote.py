"""Submitting to a Cadenza server: POST the job, follow its event stream, download the files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cadenza.cli.common import console, emit_json, fail, progress_bar


def _client(server: str) -> Any:
    import httpx

    token = os.environ.get("CADENZA_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=httpx.Timeout(30.0, read=None))


def _raise_for(response: Any, as_json: bool) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        message, category = error["message"], error["code"]
    except (ValueError, KeyError, TypeError):
        message, category = f"HTTP {response.status_code}: {response.text[:200]}", "internal"
    fail(message, as_json=as_json, category=category)


def upload_remote(server: str, path: Path, as_json: bool) -> str:
    """Upload a local file to the server; returns its upload id."""
    with _client(server) as client, path.open("rb") as handle:
        response = client.post("/api/v1/uploads", files={"file": (path.name, handle)})
        _raise_for(response, as_json)
        return response.json()["id"]


def run_remote(server: str, task: str, engine: str | None, fields: dict[str, Any], out: Path, as_json: bool) -> None:
    import httpx

    try:
        with _client(server) as client:
            response = client.post("/api/v1/jobs", json={"task": task, "engine": engine, "input": fields})
            _raise_for(response, as_json)
            job = response.json()
            try:
                job = _follow(client, job["id"])
            except KeyboardInterrupt:
                console.print("[yellow]cancelling...[/]")
                client.post(f"/api/v1/jobs/{job['id']}/cancel")
                job = _follow(client, job["id"])
            _download(client, job, out, as_json)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the server at {server}: {exc}", as_json=as_json, category="unavailable")


def _follow(client: Any, job_id: str) -> dict[str, Any]:
    with progress_bar() as bar:
        bar_task = bar.add_task("job", total=1.0, stage="queued")
        with client.stream("GET", f"/api/v1/jobs/{job_id}/events") as stream:
            event = ""
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    data = json.loads(line.split(":", 1)[1])
                    if event == "progress":
                        bar.update(bar_task, completed=data["value"], stage=data["stage"])
                    elif event == "completed":
                        return data
    return client.get(f"/api/v1/jobs/{job_id}").json()


def _download(client: Any, job: dict[str, Any], out: Path, as_json: bool) -> None:
    if job["status"] != "succeeded":
        error = job.get("error") or {}
        fail(error.get("message", job["status"]), as_json=as_json, category=error.get("category", job["status"]))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for artifact in job["artifacts"]:
        target = out / artifact["filename"]
        with client.stream("GET", artifact["url"], params={"download": 1}) as response, target.open("wb") as handle:
            for chunk in response.iter_bytes():
                handle.write(chunk)
        written.append(
            {
                "role": artifact["role"],
                "kind": artifact["kind"],
                "path": str(target),
                "mime": artifact["mime"],
                "bytes": artifact["bytes"],
                "sha256": artifact["sha256"],
            }
        )
    if as_json:
        emit_json({"status": job["status"], "job_id": job["id"], "artifacts": written, "recipe": job["recipe"]})
    else:
        for item in written:
            console.print(f"{item['role']:<24} {item['path']}", highlight=False)
