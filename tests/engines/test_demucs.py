"""Demucs stems: the real loading path with a tiny randomly initialised HTDemucs built in the test
(the real weights cannot be downloaded here), and the error that names the file when they are missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cadenza.config import load_settings
from cadenza.engines import registry
from cadenza.errors import EngineUnavailable
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store
from cadenza.jobs.worker import run_job

torch = pytest.importorskip("torch")
pytest.importorskip("demucs")


@pytest.fixture
def studio(tmp_path: Path) -> JobService:
    settings = load_settings(home=tmp_path / "home")
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


@pytest.fixture
def take(studio: JobService, tmp_path: Path):
    t = np.arange(44100 * 3) / 44100
    kick = np.sin(2 * np.pi * 60 * t) * (np.sin(2 * np.pi * 2 * t) > 0.9)
    tone = 0.2 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "take.wav"
    sf.write(path, np.stack([kick + tone, kick + tone * 0.8], axis=1).astype(np.float32), 44100)
    return studio.upload_file(path)


def test_missing_weights_name_the_file_to_fetch(studio: JobService, take, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CADENZA_MODELS_DIR", str(tmp_path / "empty-models"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch"))
    registry.load.cache_clear()
    info = next(e for e in registry.describe() if e.name == "demucs")
    assert not info.available and "955717e8-8726e21a.th" in info.reason and "get_model('htdemucs')" in info.reason
    with pytest.raises(EngineUnavailable, match=r"955717e8-8726e21a\.th"):
        studio.submit(task="stems", engine="demucs", input={"source": take.id}, enqueue=False)
    registry.load.cache_clear()


@pytest.mark.slow
def test_random_htdemucs_through_the_real_loading_path(studio: JobService, take, monkeypatch, tmp_path: Path) -> None:
    from demucs.htdemucs import HTDemucs

    kwargs = {
        "sources": ["drums", "bass", "other", "vocals"],
        "channels": 8,
        "depth": 4,
        "t_layers": 1,
        "t_heads": 2,
        "segment": 4,
    }
    torch.manual_seed(0)
    model = HTDemucs(**kwargs)
    models = tmp_path / "models" / "htdemucs"
    models.mkdir(parents=True)
    torch.save(
        {"klass": HTDemucs, "args": [], "kwargs": kwargs, "state": model.state_dict()}, models / "955717e8-8726e21a.th"
    )
    monkeypatch.setenv("CADENZA_MODELS_DIR", str(tmp_path / "models"))
    registry.load.cache_clear()
    job = studio.submit(task="stems", engine="demucs", input={"source": take.id}, enqueue=False)
    done = run_job(studio.settings, studio.store, job.id)
    registry.load.cache_clear()
    assert done.status == "succeeded", done.error_message
    assert [a.role for a in done.artifacts] == ["stem:drums", "stem:bass", "stem:other", "stem:vocals"]
    stems = [sf.read(studio.settings.home / a.path, dtype="float64")[0] for a in done.artifacts]
    source, _ = sf.read(studio.settings.home / take.path, dtype="float64")
    residual = source - np.sum(stems, axis=0)
    assert 20 * np.log10(np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(source**2))) < -40
    assert done.recipe["checkpoint"] == "955717e8-8726e21a.th"
