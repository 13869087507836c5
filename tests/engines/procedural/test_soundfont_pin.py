"""A recipe pins the SoundFont it played by sha256: a replay plays that file wherever it is installed,
or is refused naming it; never silently another SoundFont. Driven through the real CLI and server."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.api.conftest import Server, stored

BUNDLED = Path(os.environ["CADENZA_SOUNDFONT"])  # pretty_midi's TimGM6mb, set by tests/conftest.py


def distorted_copy(source: Path, target: Path) -> Path:
    """A second, audibly different SoundFont: the same instruments with every sample clipped hard."""
    data = bytearray(source.read_bytes())
    start = data.index(b"smpl")  # sdta's sample chunk: 16-bit mono samples
    size = struct.unpack_from("<I", data, start + 4)[0]
    samples = np.frombuffer(bytes(data[start + 8 : start + 8 + size]), dtype="<i2").astype(np.int32)
    clipped = np.clip(samples * 6, -12000, 12000).astype("<i2")
    data[start + 8 : start + 8 + size] = clipped.tobytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bytes(data))
    return target


def cadenza(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


def generate(*args: str, env: dict[str, str], out: Path) -> dict:
    result = cadenza("generate", *args, "--out", str(out), "--json", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def files(report: dict) -> dict[str, str]:
    """sha256 of every output but the recipe, by role."""
    return {a["role"]: a["sha256"] for a in report["artifacts"] if a["role"] != "recipe"}


def recipe_of(report: dict) -> dict:
    return json.loads(Path(next(a["path"] for a in report["artifacts"] if a["role"] == "recipe")).read_text())


SONG = ("dreamy ambient piano", "--duration", "5", "--seed", "11", "--bpm", "120")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A song made with a distorted SoundFont that CADENZA_SOUNDFONT named; then, "today", that
    variable names the bundled SoundFont and the distorted one lies under another name in the models dir."""
    root = tmp_path_factory.mktemp("pin")
    then = distorted_copy(BUNDLED, root / "then" / "Distorted_GM.sf2")
    models = root / "models"
    (models / "soundfonts").mkdir(parents=True)
    shutil.copy(then, models / "soundfonts" / "renamed.sf2")
    env_then = {"CADENZA_HOME": str(root / "home"), "CADENZA_SOUNDFONT": str(then)}
    env_today = {
        "CADENZA_HOME": str(root / "home"),
        "CADENZA_SOUNDFONT": str(BUNDLED),
        "CADENZA_MODELS_DIR": str(models),
    }
    first = generate(*SONG, env=env_then, out=root / "first")
    fresh = generate(*SONG, env=env_today, out=root / "fresh")  # the same request, today's SoundFont
    return {"root": root, "then": then, "first": first, "fresh": fresh, "env_today": env_today}


def test_the_recipe_names_the_soundfont_and_its_sha256(made: dict) -> None:
    import hashlib

    recipe = recipe_of(made["first"])
    digest = hashlib.sha256(made["then"].read_bytes()).hexdigest()
    assert recipe["renderer"] == {"kind": "soundfont", "soundfont": "Distorted_GM.sf2", "sha256": digest}
    assert recipe["request"]["advanced"]["soundfont"] == f"Distorted_GM.sf2@sha256:{digest}"
    # The two SoundFonts really sound different: the same request today makes another mix.
    first, _ = sf.read(next(a["path"] for a in made["first"]["artifacts"] if a["role"] == "mix"))
    fresh, _ = sf.read(next(a["path"] for a in made["fresh"]["artifacts"] if a["role"] == "mix"))
    assert np.sqrt(np.mean((first - fresh) ** 2)) > 0.05 * np.sqrt(np.mean(first**2))


def test_a_replay_plays_the_recorded_soundfont_not_todays(made: dict, tmp_path: Path) -> None:
    recipe = next(a["path"] for a in made["first"]["artifacts"] if a["role"] == "recipe")
    again = generate("--recipe", recipe, env=made["env_today"], out=tmp_path)
    assert files(again) == files(made["first"])  # mix, stems and MIDI, byte for byte
    # Found by its content under another name in the models dir, and recorded as the file that played.
    replayed, recorded = recipe_of(again)["renderer"], recipe_of(made["first"])["renderer"]
    assert replayed == recorded | {"soundfont": "renamed.sf2"}


def test_a_recipe_whose_soundfont_is_not_installed_is_refused_by_the_cli(made: dict, tmp_path: Path) -> None:
    recipe = recipe_of(made["first"])
    env = made["env_today"] | {"CADENZA_MODELS_DIR": str(tmp_path / "empty-models")}
    before = stored(Path(env["CADENZA_HOME"]))
    result = cadenza("generate", "--recipe", str(_saved(recipe, tmp_path)), "--out", str(tmp_path / "o"), env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    message = " ".join((result.stdout + result.stderr).split())
    sha256 = recipe["renderer"]["sha256"]
    assert f"SoundFont Distorted_GM.sf2 with sha256 {sha256}" in message
    assert str(tmp_path / "empty-models" / "soundfonts") in message and "/usr/share/sounds/sf2" in message
    assert "CADENZA_SOUNDFONT" in message and "Traceback" not in message
    assert stored(Path(env["CADENZA_HOME"])) == before


def test_a_recipe_whose_soundfont_is_not_installed_is_refused_by_the_api(made: dict, tmp_path: Path) -> None:
    recipe = recipe_of(made["first"])
    server = Server(tmp_path / "home", workers=0, env={"CADENZA_SOUNDFONT": str(BUNDLED)}).start()
    try:
        before = stored(server)
        with server.client() as client:
            response = client.post("/api/v1/jobs", json={"task": "generate", "input": recipe["request"]})
        after = stored(server)
    finally:
        server.stop()
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "input"
    assert f"SoundFont Distorted_GM.sf2 with sha256 {recipe['renderer']['sha256']}" in error["message"]
    assert "$CADENZA_MODELS_DIR/soundfonts/" in error["message"]
    assert after == before


def test_a_recipe_from_before_pins_replays_as_it_did(made: dict, tmp_path: Path) -> None:
    """An older recipe (no sha256, no pin) plays today's SoundFont, as every replay did before."""
    recipe = recipe_of(made["first"])
    recipe["request"]["advanced"].pop("soundfont")
    recipe["renderer"].pop("sha256")
    again = generate("--recipe", str(_saved(recipe, tmp_path)), env=made["env_today"], out=tmp_path / "o")
    assert files(again) == files(made["fresh"])
    assert recipe_of(again)["renderer"]["soundfont"] == "TimGM6mb.sf2"


def test_the_builtin_synthesiser_is_recorded_and_replays_as_such(made: dict, tmp_path: Path) -> None:
    home = str(made["root"] / "home")
    without = {"CADENZA_HOME": home, "CADENZA_SOUNDFONT": str(tmp_path / "missing.sf2")}
    first = generate(*SONG, env=without, out=tmp_path / "first")
    recipe = recipe_of(first)
    assert recipe["renderer"] == {"kind": "builtin", "soundfont": None, "sha256": None}
    assert recipe["request"]["advanced"]["soundfont"] == "builtin"
    path = next(a["path"] for a in first["artifacts"] if a["role"] == "recipe")
    again = generate("--recipe", path, env=made["env_today"], out=tmp_path / "again")  # a SoundFont exists now
    assert files(again) == files(first)
    assert files(again)["mix"] != files(made["fresh"])["mix"]


def _saved(recipe: dict, folder: Path) -> Path:
    path = folder / "recipe.json"
    path.write_text(json.dumps(recipe))
    return path


def test_an_edit_plays_the_soundfont_its_song_was_made_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the job service and worker: new bars are rendered with the song's pinned SoundFont, so an
    edit made after the machine's SoundFont changed is the edit made the day the song was."""
    from cadenza.jobs.worker import run_job
    from tests.conftest import job_service

    studio = job_service(tmp_path / "home")

    def run(task: str, **fields: object) -> dict[str, str]:
        job = run_job(studio.settings, studio.store, studio.submit(task=task, input=fields, enqueue=False).id)
        assert job is not None and job.status == "succeeded", job and job.error_message
        return {a.role: a.sha256 for a in job.artifacts if a.role != "recipe"} | {"id": job.id}

    then = distorted_copy(BUNDLED, tmp_path / "then" / "Distorted_GM.sf2")
    monkeypatch.setenv("CADENZA_SOUNDFONT", str(then))
    song = run("generate", prompt="dreamy ambient piano", duration=12, seed=11, bpm=120)
    same_day = run("edit", source=song["id"], start=2, end=6, seed=4)
    (tmp_path / "models" / "soundfonts").mkdir(parents=True)
    shutil.copy(then, tmp_path / "models" / "soundfonts" / "kept.sf2")
    monkeypatch.setenv("CADENZA_SOUNDFONT", str(BUNDLED))
    monkeypatch.setenv("CADENZA_MODELS_DIR", str(tmp_path / "models"))
    later = run("edit", source=song["id"], start=2, end=6, seed=4)
    assert {k: v for k, v in later.items() if k != "id"} == {k: v for k, v in same_day.items() if k != "id"}
    assert studio.get(later["id"]).recipe["renderer"]["sha256"] == studio.get(song["id"]).recipe["renderer"]["sha256"]
