"""MusicGen through the real loading path (model manager, from_pretrained) with a tiny random model."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from cadenza.config import Settings  # noqa: E402
from cadenza.engines.base import RunContext, SourceAudio  # noqa: E402
from cadenza.engines.musicgen import Melody, MusicgenEngine, _inputs, _load, _to_model_rate  # noqa: E402
from cadenza.errors import Cancelled, EngineUnavailable, InputError  # noqa: E402
from cadenza.jobs.db import ensure_schema  # noqa: E402
from cadenza.jobs.service import JobService  # noqa: E402
from cadenza.jobs.store import Store  # noqa: E402
from cadenza.jobs.worker import run_job  # noqa: E402
from cadenza.models.resolve import resolve  # noqa: E402
from cadenza.tasks import CoverRequest, ExtendRequest, GenerateRequest  # noqa: E402
from tests.engines.tiny_models import tiny_musicgen, tiny_musicgen_melody  # noqa: E402

pytestmark = pytest.mark.slow
RATE = 32000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_musicgen(tmp_path_factory.mktemp("models") / "tiny-musicgen")


@pytest.fixture(scope="module")
def melody_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_musicgen_melody(tmp_path_factory.mktemp("models") / "tiny-musicgen-melody")


def tone(hz: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture()
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty models dir and an empty Hugging Face cache: only explicit directories resolve."""
    monkeypatch.setenv("CADENZA_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture()
def studio(tmp_path: Path, offline: None) -> JobService:
    settings = Settings(home=tmp_path / "home")
    settings.home.mkdir()
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


def fast(model_dir: Path, **extra: object) -> dict[str, object]:
    return {"model": str(model_dir), "top_k": 50, **extra}


def test_generate_writes_the_requested_length_at_the_models_rate(studio: JobService, model_dir: Path) -> None:
    job = studio.submit(
        task="generate",
        engine="musicgen",
        input={"prompt": "lofi hip hop", "duration": 5, "seed": 3, "advanced": fast(model_dir)},
        enqueue=False,
    )
    done = run_job(studio.settings, studio.store, job.id)
    assert done.status == "succeeded", done.error_message
    (mix,) = [a for a in done.artifacts if a.role == "mix"]
    audio, rate = sf.read(studio.settings.home / mix.path)
    assert rate == RATE and abs(len(audio) / rate - 5.0) < 0.03
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert done.recipe["model"]["source"] == "path" and done.recipe["model"]["revision"].startswith("local-")
    assert done.recipe["request"]["advanced"]["guidance_scale"] == 3.0


def test_songs_longer_than_a_window_are_continued_window_by_window(model_dir: Path, tmp_path: Path) -> None:
    stages = []
    ctx = RunContext(seed=1, scratch=tmp_path, device="cpu", on_progress=lambda f, s: stages.append((f, s)))
    request = GenerateRequest(
        prompt="epic orchestral", duration=9, advanced=fast(model_dir, window_seconds=4, context_seconds=1)
    )
    output = MusicgenEngine().run(request, ctx)
    audio, rate = sf.read(output.artifacts[0].path)
    assert abs(len(audio) / rate - 9.0) < 0.03
    decode = [f for f, s in stages if s == "decode"]
    assert decode == sorted(decode) and decode[-1] > 0.8  # progress per step, across all windows


def test_text_conditioning_changes_the_logits(model_dir: Path) -> None:
    model, processor = _load(resolve(str(model_dir)), "cpu")
    codes = torch.full((4, 6), 64, dtype=torch.long)  # (batch * codebooks, steps)
    logits = []
    for text in ("dark techno kick", "sunny folk guitar"):
        inputs = processor(text=[text], padding=True, return_tensors="pt")
        with torch.no_grad():
            logits.append(model(**inputs, decoder_input_ids=codes).logits)
    assert not torch.allclose(logits[0], logits[1])


def test_extend_keeps_the_source_and_continues_it(model_dir: Path, tmp_path: Path) -> None:
    t = np.arange(int(44100 * 3.0)) / 44100
    source_audio = (0.3 * np.sin(2 * np.pi * 220 * t))[:, None].repeat(2, axis=1).astype(np.float32)
    source_path = tmp_path / "take.wav"
    sf.write(source_path, source_audio, 44100)
    source = SourceAudio(path=source_path, name="take")
    ctx = RunContext(seed=2, scratch=tmp_path / "out", device="cpu", inputs={"source": source})
    ctx.scratch.mkdir()
    request = ExtendRequest(source="x" * 32, seconds=4, advanced=fast(model_dir, context_seconds=2))
    output = MusicgenEngine().run(request, ctx)
    audio, rate = sf.read(output.artifacts[0].path, dtype="float32")
    prefix = _to_model_rate(source_audio, 44100, RATE)
    assert abs(len(audio) / rate - 7.0) < 0.03
    untouched = len(prefix) - int(0.05 * RATE)
    assert np.abs(audio[:untouched] - prefix[:untouched]).max() < 1e-4  # 16-bit WAV quantisation
    assert np.abs(audio[len(prefix) :]).max() > 0


def test_cancel_stops_decoding_at_the_next_step(model_dir: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    seen = []

    def progress(fraction: float, stage: str) -> None:
        seen.append(fraction)
        if stage == "decode" and fraction > 0.2:
            cancel.set()

    ctx = RunContext(seed=4, scratch=tmp_path, device="cpu", on_progress=progress, cancel_event=cancel)
    request = GenerateRequest(prompt="ambient", duration=20, advanced=fast(model_dir))
    with pytest.raises(Cancelled):
        MusicgenEngine().run(request, ctx)
    assert max(seen) < 0.4  # stopped long before the end


def test_a_missing_model_names_what_to_fetch(studio: JobService) -> None:
    ok, reason = MusicgenEngine().available()
    assert not ok and "hf download facebook/musicgen-small" in reason
    with pytest.raises(EngineUnavailable, match="musicgen-small is not on this machine"):
        studio.submit(task="generate", engine="musicgen", input={"prompt": "x", "duration": 5}, enqueue=False)


def test_a_model_too_big_for_the_memory_budget_is_refused(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENZA_MODEL_MEMORY_MB", "0.01")
    ctx = RunContext(seed=1, scratch=tmp_path, device="cpu")
    request = GenerateRequest(prompt="x", duration=5, advanced={"model": str(tmp_path / "copy")})
    import shutil

    shutil.copytree(model_dir, tmp_path / "copy")
    with pytest.raises(EngineUnavailable, match=r"needs about .* MB on cpu"):
        MusicgenEngine().run(request, ctx)


def test_the_cli_loads_a_model_directory(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "songs"
    env = {"CADENZA_HOME": str(tmp_path / "home"), "CADENZA_MODELS_DIR": str(tmp_path / "none"), "PATH": "/usr/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "cadenza", "generate", "folk", "--engine", "musicgen", "--model", str(model_dir),
         "--duration", "5", "--seed", "1", "--out", str(out), "--json"],
        capture_output=True, text=True, env={**env, "HF_HUB_CACHE": str(tmp_path / "hf")}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["recipe"]["model"]["id"] == "tiny-musicgen"
    (wav,) = out.glob("*.wav")
    assert abs(sf.info(str(wav)).duration - 5.0) < 0.03


def test_the_api_loads_a_model_named_in_the_input(model_dir: Path, tmp_path: Path) -> None:
    from tests.api.conftest import Server, wait_for

    env = {"CADENZA_MODELS_DIR": str(tmp_path / "none"), "HF_HUB_CACHE": str(tmp_path / "hf")}
    server = Server(tmp_path / "home", env=env).start()
    try:
        with server.client() as client:
            body = {"task": "generate", "engine": "musicgen", "input": {"prompt": "folk", "duration": 5}}
            body["input"]["advanced"] = fast(model_dir)
            job = client.post("/api/v1/jobs", json=body).json()
            done = wait_for(client, job["id"], ("succeeded",))
            assert done["recipe"]["model"]["id"] == "tiny-musicgen"
            missing = client.post("/api/v1/jobs", json={**body, "input": {"prompt": "folk", "duration": 5}})
            assert missing.status_code == 503 and missing.json()["error"]["code"] == "unavailable"
            assert "hf download facebook/musicgen-small" in missing.json()["error"]["message"]
    finally:
        server.stop()


def test_the_melody_is_the_dominant_pitch_class_of_each_frame(melody_dir: Path) -> None:
    model, _ = _load(resolve(str(melody_dir)), "cpu")
    chroma = Melody(np.concatenate([tone(440.0, 3), tone(261.63, 3)]), RATE).chroma(model, 0.0, 30.0)[0]
    assert chroma.shape == (235, 12)  # 30 s of 4096-sample frames, what the model was trained on
    frames_per_second = RATE / Melody.HOP
    assert int(chroma[int(1.5 * frames_per_second)].argmax()) == 9  # A
    assert int(chroma[int(4.5 * frames_per_second)].argmax()) == 0  # C
    assert torch.equal(chroma.sum(dim=1), torch.ones(235))  # one class per frame


def test_melody_conditioning_changes_the_logits_and_strength_zero_ignores_it(melody_dir: Path) -> None:
    model, tokenizer = _load(resolve(str(melody_dir)), "cpu")
    codes = torch.full((4, 6), 64, dtype=torch.long)

    def logits(hz: float, strength: float) -> torch.Tensor:
        chroma = Melody(tone(hz, 8), RATE, strength).chroma(model, 0.0, 30.0)
        inputs = _inputs(model, tokenizer, "bossa nova", None, chroma)
        with torch.no_grad():
            return model(**inputs, decoder_input_ids=codes).logits

    assert not torch.allclose(logits(440.0, 1.0), logits(261.63, 1.0))
    assert torch.allclose(logits(440.0, 0.0), logits(261.63, 0.0))


def test_a_cli_cover_follows_the_source_for_its_whole_length(melody_dir: Path, tmp_path: Path) -> None:
    source, out = tmp_path / "hum.wav", tmp_path / "covers"
    sf.write(source, np.stack([tone(440.0, 6, 44100)] * 2, axis=1), 44100)
    env = {"CADENZA_HOME": str(tmp_path / "home"), "CADENZA_MODELS_DIR": str(tmp_path / "none"), "PATH": "/usr/bin"}
    advanced = '{"top_k": 50, "window_seconds": 4, "context_seconds": 2}'
    result = subprocess.run(
        [sys.executable, "-m", "cadenza", "cover", str(source), "--prompt", "bossa nova, nylon guitar",
         "--strength", "0.8", "--engine", "musicgen", "--model", str(melody_dir), "--seed", "5",
         "--advanced", advanced, "--out", str(out), "--json"],
        capture_output=True, text=True, env={**env, "HF_HUB_CACHE": str(tmp_path / "hf")}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["recipe"]["model"]["id"] == "tiny-musicgen-melody"
    assert report["recipe"]["request"]["strength"] == 0.8
    (wav,) = out.glob("*.wav")
    audio, rate = sf.read(wav)
    assert rate == RATE and abs(len(audio) / rate - 6.0) < 0.03  # the source's length, over two windows
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0


def test_a_cover_needs_a_melody_model(model_dir: Path, tmp_path: Path) -> None:
    sf.write(tmp_path / "hum.wav", tone(440.0, 3), RATE)
    ctx = RunContext(seed=1, scratch=tmp_path, inputs={"source": SourceAudio(path=tmp_path / "hum.wav", name="hum")})
    request = CoverRequest(source="x" * 32, prompt="jazz", advanced=fast(model_dir))
    with pytest.raises(InputError, match="musicgen-melody"):
        MusicgenEngine().run(request, ctx)


def test_a_cover_without_a_model_asks_for_musicgen_melody(studio: JobService) -> None:
    ok, reason = MusicgenEngine().available_for(CoverRequest(source="x" * 32, prompt="jazz"))
    assert not ok and "hf download facebook/musicgen-melody" in reason
