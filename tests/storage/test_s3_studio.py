"""The studio on S3 storage (moto's real S3 server): its player and download buttons get local copies
of the artifacts fetched from the bucket, inside the folder Gradio is allowed to serve."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import soundfile as sf

from cadenza.config import Settings
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store
from cadenza.jobs.worker import run_job
from cadenza.storage import storage_for
from tests.servers import S3Server
from tests.storage.conftest import objects

pytest.importorskip("gradio")


def test_the_studio_plays_and_offers_artifacts_kept_in_the_bucket(
    tmp_path: Path, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadenza.ui.panel import PanelView, artifact_path

    for name, value in S3Server.ACCESS.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    settings = Settings(home=home, storage_url="s3://cadenza/studio", s3_endpoint_url=s3.endpoint())
    ensure_schema(settings.database)
    service = JobService(settings, Store(settings.database))
    job = run_job(settings, service.store, service.submit(task="generate", input={"prompt": "folk", "duration": 5}).id)
    assert job is not None and job.status == "succeeded", job and job.error_message
    assert len(objects(s3, f"studio/artifacts/{job.id}/")) == len(job.artifacts)
    assert not (home / "artifacts" / job.id).exists()  # only in the bucket

    mix = artifact_path(service, job, "mix")
    audio, rate = sf.read(mix)
    assert abs(len(audio) / rate - 5) < 0.25
    served_from = storage_for(settings).local_dir("artifacts").resolve()
    downloads = PanelView(service, panel=None).downloads(job)  # type: ignore[arg-type]
    by_digest = {hashlib.sha256(Path(path).read_bytes()).hexdigest(): Path(path) for path in downloads}
    wanted = {a.sha256 for a in job.artifacts if a.role in ("mix", "midi", "recipe")}
    assert wanted <= set(by_digest), (wanted, downloads)
    assert all(path.resolve().is_relative_to(served_from) for path in by_digest.values())
