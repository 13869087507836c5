"""Links to stored files that a browser can follow without a bearer header.

A `<video>` or `<audio>` element cannot send `Authorization`, so when the server has an API token the
studio hands out file URLs signed for one artifact: `?sig=` is an HMAC of the artifact id under the
token, which the files route accepts in place of the header. Without a token the URL is plain.
"""

from __future__ import annotations

import hashlib
import hmac

from cadenza.config import Settings

FILES_PATH = "/api/v1/files"


def file_signature(token: str, artifact_id: str) -> str:
    return hmac.new(token.encode(), f"file:{artifact_id}".encode(), hashlib.sha256).hexdigest()[:32]


def signature_matches(token: str, artifact_id: str, signature: str) -> bool:
    return hmac.compare_digest(file_signature(token, artifact_id).encode(), signature.encode())


def file_url(settings: Settings, artifact_id: str) -> str:
    """The path of an artifact on the files route, signed when the server has a token."""
    url = f"{FILES_PATH}/{artifact_id}"
    return f"{url}?sig={file_signature(settings.api_token, artifact_id)}" if settings.api_token else url
