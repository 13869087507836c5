"""The CLI against a server, Ctrl-C cancelling, and the fallback synthesiser."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

from tests.api.conftest import running


def test_generate_on_a_server_downloads_the_files(tmp_path: Path) -> None:
    with running(tmp_path / "server-home", workers=1) as server:
        env = {**os.environ, "CADENZA_HOME": str(tmp_path / "client-home")}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "cadenza",
                "generate",
                "bossa nova",
                "--duration",
                "6",
                "--seed",
                "2",
                "--server",
                server.url,
                "--out",
                str(tmp_path / "out"),
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        mix = next(a for a in report["artifacts"] if a["role"] == "mix")
        audio, rate = sf.read(mix["path"])
        assert abs(len(audio) / rate - 6) < 0.25
        with server.client() as client:
            assert client.get(f"/api/v1/jobs/{report['job_id']}").json()["status"] == "succeeded"


def test_ctrl_c_cancels_the_local_job(tmp_path: Path) -> None:
    env = {**os.environ, "CADENZA_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cadenza",
            "generate",
            "long orchestral piece",
            "--duration",
            "400",
            "--out",
            str(tmp_path / "out"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    database = tmp_path / "home" / "cadenza.db"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if database.exists() and _status(database) == "running":
            break
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert _status(database) == "cancelled"
    assert (
        not list((tmp_path / "home" / "artifacts").glob("*/*")) if (tmp_path / "home" / "artifacts").exists() else True
    )


def _status(database: Path) -> str | None:
    import sqlite3

    with sqlite3.connect(database) as db:
        row = (
            db.execute("SELECT status FROM jobs ORDER BY id DESC LIMIT 1").fetchone()
            if db.execute("SELECT name FROM sqlite_master WHERE name = 'jobs'").fetchone()
            else None
        )
    return row[0] if row else None


def test_without_a_soundfont_the_builtin_synthesiser_still_makes_music(tmp_path: Path) -> None:
    env = {**os.environ, "CADENZA_HOME": str(tmp_path / "home"), "CADENZA_SOUNDFONT": str(tmp_path / "missing.sf2")}
    listed = json.loads(
        subprocess.run(
            [sys.executable, "-m", "cadenza", "engines", "--json"], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    assert listed["renderer"]["kind"] == "builtin" and "built-in synthesiser" in listed["renderer"]["note"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cadenza",
            "generate",
            "pop",
            "--duration",
            "8",
            "--bpm",
            "120",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "out"),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["recipe"]["renderer"]["kind"] == "builtin"
    audio, rate = sf.read(next(a["path"] for a in report["artifacts"] if a["role"] == "mix"))
    assert abs(len(audio) / rate - 8) < 0.25
    assert audio[: 4 * rate].std() > 0.01
