"""JobService.estimate: the engine's time estimate for a request before it is submitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cadenza.config import load_settings
from cadenza.errors import InputError
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store


@pytest.fixture
def service(tmp_path: Path) -> JobService:
    settings = load_settings(home=tmp_path / "home")
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


def test_estimate_needs_no_files_yet_and_grows_with_the_work(service: JobService) -> None:
    short = service.estimate(task="i2v", input={"duration": 2, "width": 320, "height": 180})
    long = service.estimate(task="i2v", input={"duration": 20, "width": 1280, "height": 720})
    assert short.engine == "motion" and 0 < short.seconds < long.seconds
    assert service.store.count("queued") == 0  # nothing was submitted


def test_a_music_video_is_estimated_for_the_length_of_its_song(service: JobService, tmp_path: Path) -> None:
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros(22050 * 7), 22050)
    upload = service.upload_file(song)
    estimate = service.estimate(task="a2v", input={"audio": upload.id})
    assert estimate.duration == pytest.approx(7.0, abs=0.01)


def test_estimate_refuses_what_submit_would(service: JobService) -> None:
    with pytest.raises(InputError, match="width 321 is odd"):
        service.estimate(task="t2v", input={"prompt": "x", "width": 321})
    with pytest.raises(InputError, match="does not serve task"):
        service.estimate(task="t2v", input={"prompt": "x"}, engine="procedural")
