"""Artifacts in S3-compatible object storage (MinIO, Ceph, AWS) through fsspec/s3fs.

Credentials come from the usual AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or a
profile); CADENZA_S3_ENDPOINT_URL points at a server other than AWS.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, BinaryIO

from cadenza.errors import EngineUnavailable, NotFound


class S3Storage:
    def __init__(self, url: str, *, endpoint_url: str | None, presign: bool, cache_dir: str) -> None:
        try:
            import s3fs
        except ImportError as exc:
            raise EngineUnavailable("S3 storage needs s3fs: pip install 'cadenza[s3]'") from exc
        self.base = url.removeprefix("s3://").strip("/")
        self.presign = presign
        self.cache_dir = Path(cache_dir)
        client: dict[str, Any] = {"endpoint_url": endpoint_url} if endpoint_url else {}
        self.fs = s3fs.S3FileSystem(client_kwargs=client, skip_instance_cache=True, use_listings_cache=False)

    def _path(self, key: str) -> str:
        if ".." in Path(key).parts:
            raise NotFound(f"{key!r} is outside the storage")
        return f"{self.base}/{key}"

    def put_file(self, source: Path, key: str) -> None:
        self.fs.put_file(str(source), self._path(key))  # one PUT (or a multipart upload): never partial
        source.unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return None

    def fetch(self, key: str) -> Path:
        target = self.cache_dir / key
        size = self.size(key)
        if not (target.is_file() and target.stat().st_size == size):
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            self.fs.get_file(self._path(key), str(partial))
            os.replace(partial, target)
        return target

    def open(self, key: str) -> BinaryIO:
        try:
            return self.fs.open(self._path(key), "rb")
        except FileNotFoundError:
            raise NotFound(f"object {key!r} is missing from the storage") from None

    def size(self, key: str) -> int:
        try:
            return int(self.fs.size(self._path(key)))
        except FileNotFoundError:
            raise NotFound(f"object {key!r} is missing from the storage") from None

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def local_dir(self, prefix: str) -> Path:
        return self.cache_dir / prefix

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        return self.fs.url(self._path(key), expires=expires_s) if self.presign else None

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self._path(key))
            (self.cache_dir / key).unlink(missing_ok=True)  # this host's downloaded copy

    def delete_prefix(self, prefix: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._path(prefix.rstrip("/")), recursive=True)
