"""Who may talk to the server: loopback only without a token, only by the names it is bound to (no DNS
rebinding), state changes only from its own pages (no cross-site requests), and sign-ins throttled.

These run for the API and the studio alike, in front of both.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cadenza.api.middleware.asgi import Scope, client_host, header, is_loopback, refuse
from cadenza.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", "[::]", ""})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _hostname(host_header: str) -> str:
    """`Host` without its port; IPv6 literals keep no brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class AccessGuard:
    def __init__(self, app: Any, settings: Settings, bind_host: str | None = None) -> None:
        self.app = app
        self.token = settings.api_token
        names = {*LOOPBACK_HOSTS, *(name.lower() for name in settings.allowed_hosts)}
        if bind_host and bind_host not in WILDCARD_BINDS:
            names.add(_hostname(bind_host))
        # Bound to every interface with a token: any name may reach it, and the token guards it.
        self.any_host = "*" in names or (bool(self.token) and bind_host in WILDCARD_BINDS)
        self.hosts = sorted(names - {"*"})
        self.origins = {origin.rstrip("/").lower() for origin in settings.cors_origins}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refuse(scope, receive, send, *refusal)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        client = client_host(scope)
        if not self.token and client is not None and not is_loopback(client):
            return (
                403,
                "forbidden",
                f"this server has no CADENZA_API_TOKEN, so it answers only on this machine (loopback), not "
                f"{client}; set CADENZA_API_TOKEN to serve other machines",
            )
        host = header(scope, b"host") or ""
        if not self.any_host and _hostname(host) not in self.hosts:
            return (
                400,
                "bad_host",
                f"Host {host!r} is not a name this server answers to (accepted: {', '.join(self.hosts)}); "
                "add it to CADENZA_ALLOWED_HOSTS if you reach the server by that name",
            )
        origin = header(scope, b"origin")
        changes_state = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
        if origin is not None and changes_state and not self._allowed_origin(origin, host):
            return (
                403,
                "forbidden",
                f"cross-origin request refused: Origin {origin!r} is not this server ({host}); "
                "allow a web app by adding its origin to CADENZA_CORS_ORIGINS",
            )
        return None

    def _allowed_origin(self, origin: str, host: str) -> bool:
        return self._same_origin(origin, host) or origin.rstrip("/").lower() in self.origins

    @staticmethod
    def _same_origin(origin: str, host: str) -> bool:
        parts = urlsplit(origin.strip())
        return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.strip().lower()


class MethodGuard:
    """Methods no route serves (TRACE, CONNECT, ...) get 405 with the path's `Allow` everywhere, also
    where the studio is mounted (which would answer 404)."""

    ALLOWED = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: Any, openapi: Callable[[], dict[str, Any]], cors: bool = False) -> None:
        self.app, self.openapi, self.cors = app, openapi, cors
        self.paths: list[tuple[re.Pattern[str], set[str]]] | None = None

    def _methods(self, path: str) -> set[str]:
        """Every method the documented routes of `path` serve (Starlette's own 405 names only the
        first matching route's)."""
        if self.paths is None:
            self.paths = []
            for template, operations in self.openapi()["paths"].items():
                pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                methods = {method.upper() for method in operations}
                self.paths.append((re.compile(f"^{pattern}$"), methods | ({"HEAD"} if "GET" in methods else set())))
        methods: set[str] = set()
        for pattern, served in self.paths:
            if pattern.match(path):
                methods |= served
        return methods

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        methods = self._methods(scope["path"])
        preflight = self.cors and method == "OPTIONS" and header(scope, b"access-control-request-method") is not None
        if method not in self.ALLOWED or (methods and method not in methods and not preflight):
            message = f"method {method} is not allowed here; allowed: {', '.join(sorted(methods)) or 'GET, POST'}"
            allow = {"Allow": ", ".join(sorted(methods or {"GET", "HEAD", "POST"}))}
            await refuse(scope, receive, send, 405, "method_not_allowed", message, headers=allow)
            return
        await self.app(scope, receive, send)


class LoginThrottle:
    """After `FREE_FAILURES` wrong studio sign-ins from one address, each further try waits twice as
    long as the one before (1 s, 2 s, 4 s ... at most 5 minutes); a correct sign-in clears the count."""

    PATHS = frozenset({"/login", "/login/"})
    FREE_FAILURES = 5
    MAX_WAIT_SECONDS = 300.0

    def __init__(self, app: Any) -> None:
        self.app = app
        self.failures: dict[str, tuple[int, float]] = {}  # client -> (failures, blocked until, monotonic)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.PATHS:
            await self.app(scope, receive, send)
            return
        client = client_host(scope) or "local"
        count, blocked_until = self.failures.get(client, (0, 0.0))
        wait = blocked_until - time.monotonic()
        if wait > 0:
            seconds = max(1, round(wait))
            response_message = f"too many wrong sign-ins from this address ({count}); try again in {seconds} s"
            await refuse(scope, receive, send, 429, "too_many", response_message, None, retry_after_s=seconds)
            return

        async def watching_send(message: dict[str, Any]) -> None:
            # Counted before the answer leaves: a client that fires its next guess the moment it reads
            # this one must already find itself throttled.
            if message["type"] == "http.response.start":
                self._record(client, count, message["status"])
            await send(message)

        await self.app(scope, receive, watching_send)

    def _record(self, client: str, count: int, status: int) -> None:
        if status == 200:
            self.failures.pop(client, None)
        elif status in (400, 401):
            count += 1
            delay = 0.0
            if count >= self.FREE_FAILURES:
                delay = min(2.0 ** (count - self.FREE_FAILURES), self.MAX_WAIT_SECONDS)
            self.failures[client] = (count, time.monotonic() + delay)
            if len(self.failures) > 10_000:  # a flood of addresses must not grow this without bound
                self.failures.pop(next(iter(self.failures)))
