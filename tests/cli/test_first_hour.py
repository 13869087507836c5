"""The first hour with the CLI: every command a newcomer types says what happened, in the stream they
expect it on, and never a traceback."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

CADENZA = [sys.executable, "-m", "cadenza"]


def cadenza(*args: str, home: Path, env: dict[str, str] | None = None, cwd: Path | None = None):
    full_env = {**os.environ, "CADENZA_HOME": str(home), "COLUMNS": "250", **(env or {})}
    return subprocess.run([*CADENZA, *args], capture_output=True, text=True, env=full_env, timeout=300, cwd=cwd)


def job_rows(home: Path) -> list[tuple]:
    if not (home / "cadenza.db").exists():
        return []
    with sqlite3.connect(home / "cadenza.db") as db:
        return (
            db.execute("SELECT id, status FROM jobs ORDER BY id").fetchall()
            + db.execute("SELECT id, sha256 FROM uploads ORDER BY id").fetchall()
        )


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    home, out = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("out")
    result = cadenza("generate", "slow folk", "--duration", "20", "--bpm", "70", "--seed", "3", "--out", str(out),
                     "--json", home=home)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return home, json.loads(result.stdout)


def test_models_list_prints_the_table_and_where_it_looked(tmp_path: Path) -> None:
    result = cadenza("models", "list", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "musicgen-small" in result.stderr and "Looked in: CADENZA_MODELS_DIR=" in result.stderr
    assert "Traceback" not in result.stderr


def test_engines_shows_install_commands_with_their_brackets(tmp_path: Path) -> None:
    # Hide the neural packages from this one process, as on a default install without the extra.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\nsys.modules['transformers'] = sys.modules['diffusers'] = None\n"
    )
    env = {"PYTHONPATH": os.pathsep.join([os.environ.get("PYTHONPATH", ""), str(hide)])}
    result = cadenza("engines", home=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "pip install '.[neural]'" in result.stderr


def test_a_missing_file_is_named_as_missing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for command in (["master", "nosuchfile.wav"], ["cover", "takes/nosuchfile.wav", "--prompt", "jazz"]):
        result = cadenza(*command, home=home)
        assert result.returncode == 2
        assert f"no such file: {command[1]}" in result.stderr and "pattern" not in result.stderr
    assert job_rows(home) == []


def test_an_edit_range_past_the_last_bar_says_so(song: tuple[Path, dict], tmp_path: Path) -> None:
    home, made = song
    before = job_rows(home)
    result = cadenza("edit", made["job_id"][:12], "--start", "8", "--end", "19.5", "--out", str(tmp_path), home=home)
    assert result.returncode == 2, result.stderr
    assert "runs past the last bar that can be repainted" in result.stderr and "lies outside" not in result.stderr
    assert next(row for row in job_rows(home) if row not in before)[1] == "failed"  # recorded, nothing made
    assert not list(tmp_path.iterdir())


def test_jobs_show_is_readable_and_ids_can_be_shortened(song: tuple[Path, dict]) -> None:
    home, made = song
    shown = cadenza("jobs", "show", made["job_id"][:10], home=home)
    assert shown.returncode == 0, shown.stderr
    assert f"job {made['job_id']}" in shown.stderr and "status succeeded" in shown.stderr
    assert "{'id':" not in shown.stderr and "'input':" not in shown.stderr
    assert json.loads(cadenza("jobs", "show", made["job_id"][:10], "--json", home=home).stdout)["id"] == made["job_id"]
    # a second job (refused, so cheap) whose id shares its first characters with the song's
    assert cadenza("edit", made["job_id"], "--start", "8", "--end", "19.5", home=home).returncode == 2
    ambiguous = cadenza("jobs", "show", made["job_id"][:2], home=home)
    assert ambiguous.returncode == 2 and "begins several job ids" in ambiguous.stderr
    unknown = cadenza("jobs", "rm", "ffffffff", home=home)
    assert unknown.returncode == 2 and "no job id begins with 'ffffffff'" in unknown.stderr


def test_output_files_are_readable_by_others(song: tuple[Path, dict]) -> None:
    _, made = song
    for artifact in made["artifacts"]:
        mode = stat.S_IMODE(Path(artifact["path"]).stat().st_mode)
        assert mode & 0o044 == 0o044, f"{artifact['path']} is {oct(mode)}"


def test_lyrics_go_to_stdout(tmp_path: Path) -> None:
    result = cadenza("lyrics", "rain on the window", "--seed", "1", "--out", str(tmp_path / "out"), home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[") and sum(line.startswith("[Chorus") for line in lines) >= 2
    assert len(lines) > 12


def test_json_output_stays_pure_while_basic_pitch_transcribes(tmp_path: Path) -> None:
    pytest.importorskip("basic_pitch")
    t = np.arange(44100 * 6) / 44100
    melody = np.concatenate(
        [np.sin(2 * np.pi * f * t[:22050]) for f in (262, 294, 330, 349, 392, 440, 494, 523, 494, 440, 392, 330)]
    )
    sf.write(tmp_path / "take.wav", 0.3 * melody, 44100)
    result = cadenza("cover", "take.wav", "--prompt", "bossa nova", "--seed", "2", "--json", "--out", "out",
                     home=tmp_path / "home", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and any(a["role"] == "mix" for a in report["artifacts"])


def test_a_non_finite_duration_is_named(tmp_path: Path) -> None:
    result = cadenza("generate", "x", "--duration", "nan", home=tmp_path)
    assert result.returncode == 2 and "duration: nan is not a finite number" in result.stderr
    assert job_rows(tmp_path) == []
