"""Adapters applied by the neural engines, on the tiny random models the engine tests build, with tiny
adapters made by PEFT on those same models: what a listener would hear, measured on the written audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("peft")
pytest.importorskip("diffusers")
pytest.importorskip("torchsde")

from cadenza.config import Settings
from cadenza.engines.base import RunContext
from cadenza.engines.musicgen import MusicgenEngine
from cadenza.engines.stable_audio import StableAudioEngine
from cadenza.errors import InputError
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store
from cadenza.jobs.worker import run_job
from cadenza.loras.choices import for_request
from cadenza.loras.store import LoraStore
from cadenza.tasks import GenerateRequest
from tests.engines.tiny_models import TINY, MusicgenWidths, random_musicgen, tiny_musicgen, tiny_stable_audio
from tests.loras.adapters import make_adapter

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loras")


@pytest.fixture(scope="module")
def stable_audio(root: Path) -> Path:
    return tiny_stable_audio(root / "models" / "tiny-stable-audio")


@pytest.fixture(scope="module")
def musicgen(root: Path) -> Path:
    return tiny_musicgen(root / "models" / "tiny-musicgen")


@pytest.fixture(scope="module")
def store(root: Path, stable_audio: Path, musicgen: Path) -> LoraStore:
    """Adapters in a data dir: two for the DiT (one in kohya's spelling), one for MusicGen's decoder, and one
    for a MusicGen of another width."""
    from diffusers import StableAudioDiTModel
    from transformers import MusicgenForConditionalGeneration

    home = root / "home"
    adapters = LoraStore(home)
    dit = StableAudioDiTModel.from_pretrained(stable_audio / "transformer")
    make_adapter(dit, root / "airy.safetensors", ["to_q", "to_k", "to_v"], seed=1, prefix="transformer.")
    make_adapter(dit, root / "grit.safetensors", ["to_out.0", "proj_in"], seed=2, rank=2, alpha=4, kohya=True)
    adapters.add(root / "airy.safetensors", name="airy")
    adapters.add(root / "grit.safetensors", name="grit", engine="stable_audio")
    decoder = MusicgenForConditionalGeneration.from_pretrained(musicgen).decoder
    make_adapter(decoder, root / "hum.safetensors", ["q_proj", "v_proj", "fc1"], seed=3, prefix="base_model.model.")
    adapters.add(root / "hum.safetensors", name="hum")
    wider = MusicgenWidths(TINY.text, TINY.codec, {**TINY.decoder, "hidden_size": 48}, TINY.codebook_size)
    other = MusicgenForConditionalGeneration.from_pretrained(random_musicgen(root / "models" / "wide", wider)).decoder
    make_adapter(other, root / "wide.safetensors", ["q_proj"], seed=4, prefix="base_model.model.")
    adapters.add(root / "wide.safetensors", name="wide")
    return adapters


def run(engine: object, model: Path, store: LoraStore, tmp: Path, loras: list[tuple[str, float]]) -> np.ndarray:
    """One job's audio, the adapters resolved and checked as the worker does."""
    advanced = {"model": str(model), "loras": [{"name": n, "weight": w} for n, w in loras]}
    advanced |= {"steps": 4} if isinstance(engine, StableAudioEngine) else {"top_k": 50}
    request = GenerateRequest(prompt="dark techno kick", duration=5, seed=5, advanced=advanced)
    tmp.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(seed=5, scratch=tmp, device="cpu", loras=for_request(store.root.parent, engine, request))
    output = engine.run(request, ctx)  # type: ignore[attr-defined]
    audio, _rate = sf.read(output.artifacts[0].path)
    return audio


def test_stable_audio_weight_zero_is_the_plain_model_and_weight_one_changes_the_audio(
    stable_audio: Path, store: LoraStore, tmp_path: Path
) -> None:
    engine = StableAudioEngine()
    plain = run(engine, stable_audio, store, tmp_path / "plain", [])
    off = run(engine, stable_audio, store, tmp_path / "off", [("airy", 0.0)])
    on = run(engine, stable_audio, store, tmp_path / "on", [("airy", 1.0)])
    assert np.array_equal(off, plain)
    assert np.sqrt(np.mean((on - plain) ** 2)) > 1e-4 * max(np.sqrt(np.mean(plain**2)), 1e-9)


def test_two_adapters_combine_and_a_job_after_them_is_plain_again(
    stable_audio: Path, store: LoraStore, tmp_path: Path
) -> None:
    engine = StableAudioEngine()
    plain = run(engine, stable_audio, store, tmp_path / "plain", [])
    airy = run(engine, stable_audio, store, tmp_path / "airy", [("airy", 1.0)])
    grit = run(engine, stable_audio, store, tmp_path / "grit", [("grit", 1.0)])
    both = run(engine, stable_audio, store, tmp_path / "both", [("airy", 1.0), ("grit", 1.0)])
    airy_only = run(engine, stable_audio, store, tmp_path / "airy-only", [("airy", 1.0), ("grit", 0.0)])
    after = run(engine, stable_audio, store, tmp_path / "after", [])
    assert not np.allclose(both, airy) and not np.allclose(both, grit) and not np.allclose(airy, grit)
    assert np.array_equal(airy_only, airy)  # each adapter's part is its own: a zero weight removes exactly it
    assert np.array_equal(after, plain)  # unloading left the cached pipeline as it was
    pipeline = cached_pipeline(engine, stable_audio)
    assert not any("lora" in name for name, _ in pipeline.transformer.named_parameters())


def cached_pipeline(engine: StableAudioEngine, folder: Path) -> object:
    """The engine's own cached pipeline (the cache hands back the loaded one)."""
    from cadenza.engines.stable_audio import _load
    from cadenza.models.resolve import resolve

    resolved = resolve(str(folder), "stable_audio")
    return engine.loaded(resolved, "cpu", lambda: _load(resolved, "cpu"))


def test_musicgen_adapters_on_the_decoder_change_its_logits_and_unload_per_job(
    musicgen: Path, store: LoraStore, tmp_path: Path
) -> None:
    """The tiny random codec renders every code alike, so the decoder's logits are measured (a forward
    hook on the engine's own cached model records the first decoding step of each job)."""
    from cadenza.engines.musicgen import _load
    from cadenza.models.resolve import resolve

    engine = MusicgenEngine()
    resolved = resolve(str(musicgen), "musicgen")
    model, _processor = engine.loaded(resolved, "cpu", lambda: _load(resolved, "cpu"))
    first_steps: list[object] = []

    def record(_module: object, _inputs: object, output: object) -> None:
        first_steps.append(output.logits[:, -1].detach().clone())  # type: ignore[attr-defined]

    hook = model.decoder.register_forward_hook(record)
    try:
        runs = {}
        for label, loras in (("plain", []), ("off", [("hum", 0.0)]), ("on", [("hum", 1.0)]), ("after", [])):
            first_steps.clear()
            run(engine, musicgen, store, tmp_path / label, loras)
            runs[label] = first_steps[0]
    finally:
        hook.remove()
    assert bool((runs["off"] == runs["plain"]).all()) and bool((runs["after"] == runs["plain"]).all())
    assert float((runs["on"] - runs["plain"]).abs().max()) > 1e-3
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_an_adapter_that_does_not_fit_is_refused_naming_it_and_the_mismatch(
    stable_audio: Path, musicgen: Path, store: LoraStore
) -> None:
    def refused(engine: object, model: Path, name: str) -> str:
        request = GenerateRequest(prompt="x", duration=5, advanced={"model": str(model), "loras": [{"name": name}]})
        with pytest.raises(InputError) as error:
            for_request(store.root.parent, engine, request)
        return error.value.message

    wrong_engine = refused(StableAudioEngine(), stable_audio, "hum")
    assert "'hum'" in wrong_engine and "MusicGen decoder LoRA" in wrong_engine and "stable_audio" in wrong_engine
    wrong_width = refused(MusicgenEngine(), musicgen, "wide")
    assert "'wide'" in wrong_width and "48" in wrong_width and "32" in wrong_width
    unknown = refused(MusicgenEngine(), musicgen, "nope")
    assert "'nope'" in unknown and "hum" in unknown  # names what is stored


def service_for(store: LoraStore) -> JobService:
    settings = Settings(home=store.root.parent)
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


def test_the_recipe_pins_each_adapter_and_a_replay_uses_that_file_or_refuses(
    stable_audio: Path, store: LoraStore, root: Path
) -> None:
    studio = service_for(store)
    store.add(root / "airy.safetensors", name="replayed")  # the same file as "airy", under a second name
    advanced = {"model": str(stable_audio), "steps": 4, "loras": [{"name": "replayed", "weight": 0.7}]}
    job = studio.submit(task="generate", engine="stable_audio", input={"prompt": "pads", "duration": 5,
                        "advanced": advanced}, enqueue=False)  # fmt: skip
    first = run_job(studio.settings, studio.store, job.id)
    assert first.status == "succeeded", first.error_message
    sha = store.get("replayed").sha256
    assert first.recipe["request"]["advanced"]["loras"] == [{"name": "replayed", "weight": 0.7, "sha256": sha}]

    replay_input = first.recipe["request"]
    again = run_job(studio.settings, studio.store, studio.submit(task="generate", engine="stable_audio",
                    input=replay_input, enqueue=False).id)  # fmt: skip
    assert again.status == "succeeded", again.error_message
    assert again.artifacts[0].sha256 == first.artifacts[0].sha256  # same adapter file, same bytes

    store.remove("replayed")
    assert store.file(store.get("airy")).is_file()  # "airy" still holds the same file
    with pytest.raises(InputError, match=r"adapter 'replayed' \(sha256 [0-9a-f]{12}\) is not stored"):
        studio.submit(task="generate", engine="stable_audio", input=replay_input, enqueue=False)
    store.add(root / "grit.safetensors", name="replayed", engine="stable_audio")  # another file, same name
    with pytest.raises(InputError, match="'replayed' is now a different file"):
        studio.submit(task="generate", engine="stable_audio", input=replay_input, enqueue=False)
    store.remove("replayed")


def test_a_job_whose_adapter_went_away_before_it_ran_fails_as_an_input_error(
    stable_audio: Path, store: LoraStore, root: Path
) -> None:
    studio = service_for(store)
    store.add(root / "grit.safetensors", name="brief", engine="stable_audio")
    advanced = {"model": str(stable_audio), "steps": 4, "loras": [{"name": "brief"}]}
    job = studio.submit(task="generate", engine="stable_audio", input={"prompt": "pads", "duration": 5,
                        "advanced": advanced}, enqueue=False)  # fmt: skip
    store.remove("brief")
    done = run_job(studio.settings, studio.store, job.id)
    assert done.status == "failed" and done.error_category == "input" and "'brief'" in done.error_message


def test_engines_without_adapters_say_so(store: LoraStore) -> None:
    studio = service_for(store)
    with pytest.raises(InputError, match="engine 'procedural' takes no adapters"):
        studio.submit(task="generate", input={"prompt": "x", "advanced": {"loras": [{"name": "airy"}]}})


def test_a_peft_folder_keeps_its_alpha(stable_audio: Path, store: LoraStore, root: Path, tmp_path: Path) -> None:
    """A PEFT save_pretrained folder (adapter_config.json with lora_alpha = 2 x rank) scales its adapter by 2:
    the same as its bare weights file at weight 2."""
    from diffusers import StableAudioDiTModel
    from peft import LoraConfig

    dit = StableAudioDiTModel.from_pretrained(stable_audio / "transformer")
    folder = root / "peft-folder"
    make_adapter(
        dit, folder / "adapter_model.safetensors", ["to_q", "to_v"], rank=4, seed=7, prefix="base_model.model."
    )
    LoraConfig(r=4, lora_alpha=8, target_modules=["to_q", "to_v"]).save_pretrained(str(folder))
    assert store.add(folder, name="folded", engine="stable_audio").alpha == 8.0
    store.add(folder / "adapter_model.safetensors", name="bare", engine="stable_audio")
    engine = StableAudioEngine()
    folded = run(engine, stable_audio, store, tmp_path / "folded", [("folded", 1.0)])
    bare = run(engine, stable_audio, store, tmp_path / "bare", [("bare", 2.0)])
    plain = run(engine, stable_audio, store, tmp_path / "plain", [])
    assert np.array_equal(folded, bare) and not np.allclose(folded, plain)
