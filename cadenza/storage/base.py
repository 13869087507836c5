"""The storage contract every implementation keeps."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol


class Storage(Protocol):
    def put_file(self, source: Path, key: str) -> None:
        """Move or copy the local file `source` to `key`; readers never see a partial object."""

    def local_path(self, key: str) -> Path | None:
        """The file itself when it is on this host's file system, else None."""

    def fetch(self, key: str) -> Path:
        """A local file with the object's bytes (downloaded into a cache when remote)."""

    def open(self, key: str) -> BinaryIO:
        """A seekable binary reader."""

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def local_dir(self, prefix: str) -> Path:
        """The directory on this host that local copies of the files under `prefix` are read from."""

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        """A time-limited URL a client can download from directly, when configured; else None."""

    def delete(self, keys: list[str]) -> None: ...

    def delete_prefix(self, prefix: str) -> None: ...
