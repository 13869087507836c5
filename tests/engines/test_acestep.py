"""The acestep engine against a stand-in ACE-Step 1.5 server that follows its documented API.

ACE-Step itself is a remote GPU service (its package cannot live in Cadenza's environment), so the
server is stood in for (tests/engines/acestep_standin.py); the engine, job service and worker are real.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cadenza.engines import registry
from cadenza.engines.acestep import AceStepEngine
from cadenza.engines.base import RunContext
from cadenza.errors import Cancelled
from cadenza.jobs.service import JobService
from cadenza.jobs.worker import run_job
from cadenza.tasks import GenerateRequest
from tests.conftest import job_service
from tests.engines.acestep_standin import RATE, Behaviour, Running, StandIn

FAST = {"poll_seconds": 0.05}


@pytest.fixture()
def standin() -> StandIn:
    return StandIn()


@pytest.fixture()
def server(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    with Running(standin) as running:
        monkeypatch.setenv("CADENZA_ACESTEP_URL", running.url)
        monkeypatch.delenv("CADENZA_ACESTEP_KEY", raising=False)
        yield running


@pytest.fixture()
def studio(tmp_path: Path) -> JobService:
    return job_service(tmp_path / "home")


def run(studio: JobService, task: str, listener=None, **fields: object):
    job = studio.submit(task=task, engine="acestep", input=fields, enqueue=False)
    return run_job(studio.settings, studio.store, job.id, listener=listener)


def uploaded_song(studio: JobService, tmp_path: Path, seconds: float = 10.0):
    t = np.arange(int(44100 * seconds)) / 44100
    path = tmp_path / "song.wav"
    sf.write(path, np.stack([0.3 * np.sin(2 * np.pi * 330 * t)] * 2, axis=1), 44100)
    return studio.upload_file(path), path


def only_task(standin: StandIn):
    (task,) = standin.tasks.values()
    return task


def test_generate_is_text2music_with_every_parameter_and_one_take_per_seed(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    seen: list[tuple[float, str]] = []
    done = run(
        studio,
        "generate",
        listener=lambda fraction, stage: seen.append((fraction, stage)),
        prompt="synthwave, female vocals",
        lyrics="[Verse]\nNeon rain on empty streets",
        duration=12,
        bpm=118,
        key="A minor",
        time_signature="3/4",
        advanced={**FAST, "batch_seeds": [11, 22], "thinking": False, "lm_temperature": 0.7, "vocal_language": "en"},
    )
    assert done.status == "succeeded", done.error_message
    sent = only_task(standin).fields
    assert sent["task_type"] == "text2music" and sent["prompt"] == "synthwave, female vocals"
    assert sent["lyrics"].startswith("[Verse]") and sent["audio_duration"] == 12
    assert (sent["bpm"], sent["key_scale"], sent["time_signature"]) == (118, "A minor", "3")
    assert (sent["seed"], sent["batch_size"], sent["use_random_seed"]) == ("11,22", 2, False)
    assert sent["inference_steps"] == 8 and sent["model"] == "acestep-v15-turbo"  # the turbo default
    assert sent["thinking"] is False and sent["lm_temperature"] == 0.7 and sent["infer_method"] == "ode"

    takes = {a.role: a for a in done.artifacts}
    assert set(takes) == {"mix", "take:2", "metadata"}
    audio, rate = sf.read(studio.settings.home / takes["mix"].path)
    assert rate == RATE and abs(len(audio) / rate - 12.0) < 0.01
    assert done.recipe["model"] == {
        "id": "acestep-v15-turbo",
        "dit_model": "acestep-v15-turbo",
        "lm_model": "acestep-5Hz-lm-0.6B",
    }
    assert done.recipe["acestep"]["seeds"] == "11,22"
    assert done.recipe["request"]["advanced"]["inference_steps"] == 8  # resolved, so a rerun is the same

    following = [fraction for fraction, stage in seen if stage == "diffusion"]
    assert following and following == sorted(following)  # the server's progress, in order


def test_non_turbo_models_default_to_more_steps_and_explicit_steps_win(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    assert (
        run(studio, "generate", prompt="jazz", duration=10, advanced={**FAST, "model": "acestep-v15-base"}).status
        == "succeeded"
    )
    assert (
        run(studio, "generate", prompt="jazz", duration=10, advanced={**FAST, "inference_steps": 50}).status
        == "succeeded"
    )
    first, second = (task.fields for task in standin.tasks.values())
    assert (first["model"], first["inference_steps"]) == ("acestep-v15-base", 32)
    assert (second["model"], second["inference_steps"]) == ("acestep-v15-turbo", 50)


def test_song_tasks_upload_their_source_and_map_to_acestep_task_types(
    studio: JobService, standin: StandIn, server: Running, tmp_path: Path
) -> None:
    upload, path = uploaded_song(studio, tmp_path, seconds=10.0)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    edited = run(studio, "edit", source=upload.id, start=4, end=8, prompt="guitar solo", advanced=FAST)
    extended = run(studio, "extend", source=upload.id, seconds=6, advanced=FAST)
    covered = run(studio, "cover", source=upload.id, prompt="bossa nova", strength=0.6, advanced=FAST)
    assert [j.status for j in (edited, extended, covered)] == ["succeeded"] * 3

    edit, extend, cover = standin.tasks.values()
    assert all(hashlib.sha256(t.source.read_bytes()).hexdigest() == digest for t in (edit, extend, cover))
    assert (edit.fields["task_type"], edit.fields["repainting_start"], edit.fields["repainting_end"]) == (
        "repaint",
        "4.0",
        "8.0",
    )
    assert extend.fields["task_type"] == "repaint"  # ACE-Step extends by repainting past the end
    assert (float(extend.fields["repainting_start"]), float(extend.fields["repainting_end"])) == (10.0, 16.0)
    assert (cover.fields["task_type"], cover.fields["audio_cover_strength"], cover.fields["prompt"]) == (
        "cover",
        "0.6",
        "bossa nova",
    )

    mix = next(a for a in extended.artifacts if a.role == "mix")
    assert abs(sf.info(str(studio.settings.home / mix.path)).duration - 16.0) < 0.01


def test_a_failed_task_fails_the_job_with_the_servers_reason(
    studio: JobService, standin: StandIn, server: Running
) -> None:
    standin.behaviour = Behaviour(failure="CUDA out of memory while decoding")
    done = run(studio, "generate", prompt="metal", duration=10, advanced=FAST)
    assert done.status == "failed" and "CUDA out of memory while decoding" in done.error_message
    assert done.artifacts == []


def test_a_task_that_never_ends_times_out(studio: JobService, standin: StandIn, server: Running) -> None:
    standin.behaviour = Behaviour(never_finish=True)
    done = run(studio, "generate", prompt="drone", duration=10, advanced={**FAST, "timeout_seconds": 1})
    assert done.status == "failed" and "did not finish within 1 s" in done.error_message


def test_cancel_stops_following_the_task(standin: StandIn, server: Running, tmp_path: Path) -> None:
    standin.behaviour = Behaviour(never_finish=True)
    cancel = threading.Event()

    def progress(fraction: float, stage: str) -> None:
        if stage == "diffusion":
            cancel.set()

    ctx = RunContext(seed=1, scratch=tmp_path, on_progress=progress, cancel_event=cancel)
    with pytest.raises(Cancelled, match="left to finish on the server"):
        AceStepEngine().run(GenerateRequest(prompt="ambient", duration=10, advanced={**FAST, "poll_seconds": 5}), ctx)
    assert only_task(standin).polls == 1  # stopped at the first progress, without waiting out the poll interval


def test_a_server_with_a_key_needs_the_key(
    studio: JobService, standin: StandIn, server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin.behaviour = Behaviour(key="s3cret")
    refused = run(studio, "generate", prompt="folk", duration=10, advanced=FAST)
    assert refused.status == "failed" and "CADENZA_ACESTEP_KEY" in refused.error_message

    monkeypatch.setenv("CADENZA_ACESTEP_KEY", "s3cret")
    assert run(studio, "generate", prompt="folk", duration=10, advanced=FAST).status == "succeeded"
    assert standin.headers[-1]["authorization"] == "Bearer s3cret"


def test_without_a_server_the_engine_is_unavailable_and_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CADENZA_ACESTEP_URL", raising=False)
    ok, reason = AceStepEngine().available()
    assert not ok and "CADENZA_ACESTEP_URL" in reason and "acestep.api_server" in reason
    monkeypatch.setenv("CADENZA_ACESTEP_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    ok, reason = AceStepEngine().available()
    assert not ok and "cannot reach the ACE-Step server at http://127.0.0.1:9" in reason
    info = next(i for i in registry.describe() if i.name == "acestep")
    assert not info.available and set(info.tasks) == {"generate", "cover", "edit", "extend"}
