"""How much one request may send, and how many event streams may stay open.

The body limit is applied while the body arrives: a declared `Content-Length` over the limit is refused
before a byte of the body is read, and a chunked body is cut off at the limit, so an oversized upload
costs neither the transfer nor the disk.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from cadenza.api.middleware.asgi import Scope, client_host, header, refuse
from cadenza.config import Settings

UPLOAD_PATHS = frozenset({"/api/v1/uploads", "/api/v1/loras"})  # files, capped by CADENZA_MAX_UPLOAD_MB
JSON_BODY_LIMIT = 1 << 20  # job requests are small JSON objects (lyrics at most 20,000 characters)
MULTIPART_SLACK = 64 << 10  # the multipart envelope around an upload's bytes
EVENTS_PATH = re.compile(r"^/api/v1/jobs/[^/]+/events/?$")


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.upload_limit = int(settings.max_upload_mb * 1024 * 1024)

    def _limit(self, path: str) -> tuple[int, str]:
        if path.startswith("/api/") and path.rstrip("/") not in UPLOAD_PATHS:
            return JSON_BODY_LIMIT, "the request body exceeds 1 MB; job requests are small JSON objects"
        mb = f"{self.upload_limit / 1024 / 1024:g}"
        return self.upload_limit + MULTIPART_SLACK, f"the upload exceeds {mb} MB (CADENZA_MAX_UPLOAD_MB)"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit, message = self._limit(scope["path"])
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await refuse(scope, receive, send, 413, "too_large", message)
            return
        received, exceeded, started = 0, False, False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True  # the app sees a client that went away and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app says about the cut-off body, the answer is 413
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await refuse(scope, receive, send, 413, "too_large", message)


class EventStreamCap:
    """At most `max_event_streams` open job event streams, and `max_event_streams_per_client` per
    client address; one more is a 429 that says which cap it met."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.total_cap = settings.max_event_streams
        self.client_cap = settings.max_event_streams_per_client
        self.open: Counter[str] = Counter()  # touched only from the event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not EVENTS_PATH.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        client = client_host(scope) or "local"
        total = sum(self.open.values())
        if self.open[client] >= self.client_cap:
            message = (
                f"this client already has {self.open[client]} job event streams open, the most one client may "
                f"(CADENZA_MAX_EVENT_STREAMS_PER_CLIENT); close one, or poll GET /api/v1/jobs/{{id}}"
            )
            await refuse(scope, receive, send, 429, "too_many", message)
            return
        if total >= self.total_cap:
            message = (
                f"{total} job event streams are open, the most this server serves (CADENZA_MAX_EVENT_STREAMS); "
                "retry later, or poll GET /api/v1/jobs/{id}"
            )
            await refuse(scope, receive, send, 429, "too_many", message)
            return
        self.open[client] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[client] -= 1
            if self.open[client] <= 0:
                del self.open[client]
