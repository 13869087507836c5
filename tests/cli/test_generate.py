"""The CLI as a user drives it: a real `cadenza` process per command, an isolated data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

CADENZA = [sys.executable, "-m", "cadenza"]


def cadenza(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CADENZA_HOME": str(home)}
    result = subprocess.run([*CADENZA, *args], capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("out")
    result = cadenza("generate", "dreamy ambient piano", "--duration", "8", "--seed", "3", "--bpm", "70",
                     "--key", "D major", "--out", str(out), "--json", home=home)  # fmt: skip
    return home, json.loads(result.stdout)


def test_generate_writes_mix_midi_stems_and_recipe(made: tuple[Path, dict]) -> None:
    _, report = made
    roles = [a["role"] for a in report["artifacts"]]
    assert report["status"] == "succeeded"
    assert {"mix", "midi", "recipe"} <= set(roles)
    assert sum(r.startswith("stem:") for r in roles) >= 3
    mix = next(a for a in report["artifacts"] if a["role"] == "mix")
    audio, rate = sf.read(mix["path"])
    assert abs(len(audio) / rate - 8) <= 0.25
    assert Path(mix["path"]).name.endswith("_dreamy-ambient-piano_s3.wav")
    assert report["recipe"]["style"]["key"] == "D major" and report["recipe"]["style"]["bpm"] == 70


def test_recipe_reproduces_the_same_bytes(made: tuple[Path, dict], tmp_path: Path) -> None:
    home, report = made
    recipe = next(a["path"] for a in report["artifacts"] if a["role"] == "recipe")
    again = json.loads(cadenza("generate", "--recipe", recipe, "--out", str(tmp_path), "--json", home=home).stdout)
    first = {a["role"]: a["sha256"] for a in report["artifacts"] if a["role"] != "recipe"}
    second = {a["role"]: a["sha256"] for a in again["artifacts"] if a["role"] != "recipe"}
    assert first == second


def test_the_job_is_in_the_history(made: tuple[Path, dict]) -> None:
    home, report = made
    listed = json.loads(cadenza("jobs", "list", "--search", "ambient", "--json", home=home).stdout)["items"]
    assert report["job_id"] in [j["id"] for j in listed]
    shown = json.loads(cadenza("jobs", "show", report["job_id"], "--json", home=home).stdout)
    assert shown["status"] == "succeeded" and shown["recipe"]["seed"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--key", "H major"], "expected a tonic A-G"),
        (["--bpm", "900"], "accepted: 40 to 240"),
        (["--duration", "0"], "duration"),
        (["--time-signature", "7/3"], "accepted: 2/4, 3/4, 4/4"),
        (["--genre", "polka"], "accepted: pop, rock"),
        (["--engine", "nonesuch"], "unknown engine 'nonesuch'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = cadenza("generate", "pop", *args, "--out", str(tmp_path), home=tmp_path / "home", check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_input_with_json_is_json(tmp_path: Path) -> None:
    result = cadenza("generate", "pop", "--bpm", "900", "--json", home=tmp_path, check=False)
    assert json.loads(result.stdout)["error"]["category"] == "input"


def test_engines_lists_availability_and_the_soundfont(tmp_path: Path) -> None:
    listed = json.loads(cadenza("engines", "--json", home=tmp_path).stdout)
    procedural = next(e for e in listed["engines"] if e["name"] == "procedural")
    assert procedural["available"] and "generate" in procedural["tasks"]
    assert listed["renderer"]["kind"] in ("soundfont", "builtin") and listed["renderer"]["note"]
    assert len(listed["genres"]) >= 14


def test_the_command_line_imports_nothing_heavy() -> None:
    """`cadenza --help` stays fast because the CLI module imports no numerical, ML or web stack."""
    code = "import sys, cadenza.cli; print(sorted(m for m in ('numpy', 'scipy', 'torch', 'fastapi', 'sqlalchemy', 'pydantic', 'transformers') if m in sys.modules))"  # noqa: E501
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_help_imports_nothing_it_does_not_show() -> None:
    """`cadenza --help` renders with rich but without the Markdown, syntax-highlighting and traceback
    modules typer's help module imports at its top (Cadenza uses none of them), and without any stack."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['cadenza', '--help']\n"
        "try:\n    runpy.run_module('cadenza', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = ('markdown_it', 'rich.markdown', 'rich.traceback', 'pygments', 'attr', 'numpy', 'pydantic',"
        " 'pydantic_settings', 'sqlalchemy', 'alembic')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands" in result.stdout and "workflows" in result.stdout  # the groups are listed
    assert result.stderr.strip() == "[]"


def test_a_song_starts_without_what_only_other_tasks_need(tmp_path: Path) -> None:
    """The procedural engine imports no resampler (only covers of foreign audio need scipy.signal), and the
    schema check of a database already at the newest revision reads one row without loading Alembic."""
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    subprocess.run(
        [sys.executable, "-c", f"from cadenza.jobs.db import ensure_schema; ensure_schema({url!r})"], check=True
    )
    code = (
        "import sys\n"
        "import cadenza.engines.procedural.engine\n"
        "from cadenza.jobs.db import ensure_schema\n"
        f"ensure_schema({url!r})\n"
        "print(sorted({m.split('.')[0] + '.' + m.split('.')[1] if m.startswith('scipy.') else m.split('.')[0]"
        " for m in sys.modules} & {'scipy.signal', 'scipy.stats', 'alembic', 'pydantic_settings', 'torch'}))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
