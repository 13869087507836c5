"""Artifacts on a local or shared (NFS, SMB) directory: today's layout under the data dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

from cadenza.errors import NotFound


class LocalStorage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise NotFound(f"{key!r} is outside the storage")
        return path

    def put_file(self, source: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)  # atomic on one file system
        except OSError:  # another file system (a shared mount): copy beside, then rename
            partial = target.with_name(f".{target.name}.partial")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
            source.unlink()

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def fetch(self, key: str) -> Path:
        return self._path(key)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def local_dir(self, prefix: str) -> Path:
        return self.root / prefix

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        return None

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)
