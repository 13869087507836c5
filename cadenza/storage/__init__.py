"""Where artifacts live: the data dir (or a directory every host mounts), or S3-compatible object storage.

Keys are the relative paths the job record stores (`artifacts/<job id>/<name>`), the same in both, so
a database can move between them with a copy. `storage_for(settings)` picks one from CADENZA_STORAGE_URL.
"""

from __future__ import annotations

from functools import cache

from cadenza.config import Settings
from cadenza.storage.base import Storage
from cadenza.storage.local import LocalStorage


@cache
def _storage(url: str | None, home: str, endpoint: str | None, presign: bool) -> Storage:
    if url and url.startswith("s3://"):
        from cadenza.storage.s3 import S3Storage

        return S3Storage(url, endpoint_url=endpoint, presign=presign, cache_dir=f"{home}/cache")
    if url and not url.startswith(("file://", "/")):
        from cadenza.errors import InputError

        raise InputError(f"CADENZA_STORAGE_URL {url!r} is not supported; use s3://bucket/prefix or a directory")
    return LocalStorage(url.removeprefix("file://") if url else home)


def storage_for(settings: Settings) -> Storage:
    return _storage(settings.storage_url, str(settings.home), settings.s3_endpoint_url, settings.storage_presign)


__all__ = ["LocalStorage", "Storage", "storage_for"]
