"""`cadenza generate` in local mode on S3 storage (moto's real S3 server): the job's files land in the
bucket, and --out still gets them, copied from this host's download of each object."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.servers import S3Server
from tests.storage.conftest import objects


def test_the_cli_writes_its_files_from_the_bucket(tmp_path: Path, s3: S3Server) -> None:
    env = {**os.environ, "CADENZA_HOME": str(tmp_path / "home"), **s3.env(prefix="cli")}
    out = tmp_path / "songs"
    result = subprocess.run(
        [sys.executable, "-m", "cadenza", "generate", "bright folk", "--duration", "5", "--out", str(out), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    made = json.loads(result.stdout)
    stored = objects(s3, f"cli/artifacts/{made['job_id']}/")
    assert len(stored) == len(made["artifacts"]) >= 3
    for artifact in made["artifacts"]:
        path = Path(artifact["path"])
        assert path.parent == out and hashlib.sha256(path.read_bytes()).hexdigest() == artifact["sha256"]
