"""The small ASGI helpers the middleware shares: headers, client address, and answering with our errors."""

from __future__ import annotations

import ipaddress
from typing import Any

from cadenza.api.errors import error_response

Scope = dict[str, Any]
LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "localhost.localdomain"})


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def is_loopback(host: str) -> bool:
    """A loopback name or address (127.0.0.0/8, ::1); anything unparsable is not."""
    host = host.strip().lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def client_host(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


async def refuse(
    scope: Scope,
    receive: Any,
    send: Any,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> None:
    """Answer with `{"error": ...}` before the application sees the request."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    response = error_response(status, code, message, extra or None)
    response.headers.update(headers or {})
    await response(scope, receive, send)
