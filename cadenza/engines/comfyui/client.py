"""The documented HTTP and WebSocket API of a ComfyUI server (its `server.py`), and nothing else.

Every call names the server and what it answered when it fails: EngineUnavailable when it cannot be
reached or refuses the credentials, InputError when it rejects a workflow (a 400 with `node_errors`),
EngineError for anything else it does wrong.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.errors import EngineError, EngineUnavailable, InputError

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

CONNECT_TIMEOUT = 5.0


def parse_header(header: str | None) -> dict[str, str]:
    """`'Authorization: Bearer x'` -> `{'Authorization': 'Bearer x'}`; empty -> no header."""
    if not header or not header.strip():
        return {}
    name, colon, value = header.partition(":")
    if not colon or not name.strip() or any(c.isspace() for c in name.strip()):
        raise EngineUnavailable(
            f"CADENZA_COMFYUI_HEADER must look like 'Name: value' (e.g. 'Authorization: Bearer TOKEN'), got {header!r}"
        )
    return {name.strip(): value.strip()}


def content_name(path: Path) -> str:
    """The name an input gets on the server: its sha256, so the same file is uploaded under one name."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"cadenza-{digest.hexdigest()[:24]}{path.suffix.lower()}"


def describe_rejection(body: Any) -> str:
    """A 400 from POST /prompt as one readable message: the error, then each node's problems."""
    if not isinstance(body, dict):
        return str(body)[:500]
    error = body.get("error") or {}
    lines = []
    if isinstance(error, dict):
        headline = error.get("message") or error.get("type") or "the workflow is invalid"
        details = error.get("details")
        lines.append(f"{headline}{f' ({details})' if details else ''}")
    else:
        lines.append(str(error))
    for node_id, problem in (body.get("node_errors") or {}).items():
        for item in problem.get("errors", []):
            details = f": {item['details']}" if item.get("details") else ""
            lines.append(f"node {node_id} ({problem.get('class_type', '?')}): {item.get('message', item)}{details}")
    return "; ".join(lines)


class ComfyClient:
    """One ComfyUI server: `url` like http://host:8188, `header` an optional 'Name: value'."""

    def __init__(self, url: str, header: str | None = None, timeout: float = 30.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.headers = parse_header(header)
        self.client_id = uuid.uuid4().hex
        self.http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ComfyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plain HTTP ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"cannot reach the ComfyUI server at {self.url}: {exc}") from None
        if response.status_code in (401, 403):
            raise EngineUnavailable(
                f"the ComfyUI server at {self.url} refused the request (HTTP {response.status_code}): "
                "set CADENZA_COMFYUI_HEADER to the header its proxy expects, e.g. 'Authorization: Bearer TOKEN'"
            )
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code >= 400:
            raise EngineError(
                f"the ComfyUI server at {self.url} answered HTTP {response.status_code} to {path}: "
                f"{response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError:
            raise EngineError(f"the ComfyUI server at {self.url} sent {path} something that is not JSON") from None

    def system_stats(self) -> dict[str, Any]:
        return self._json("GET", "/system_stats", timeout=CONNECT_TIMEOUT)

    def queue(self) -> dict[str, list[Any]]:
        return self._json("GET", "/queue")

    def object_info(self) -> dict[str, Any]:
        return self._json("GET", "/object_info")

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The finished prompt's entry, or None while it is queued, running or unknown."""
        return (self._json("GET", f"/history/{prompt_id}") or {}).get(prompt_id)

    def queued(self, prompt_id: str) -> str | None:
        """'running', 'pending' or None (not in the queue)."""
        queue = self.queue()
        for state, key in (("running", "queue_running"), ("pending", "queue_pending")):
            if any(len(item) > 1 and item[1] == prompt_id for item in queue.get(key, [])):
                return state
        return None

    def upload(self, path: Path) -> str:
        """Put an input file (image, audio or video) into the server's input folder; returns its name there."""
        name = content_name(path)
        with path.open("rb") as handle:
            body = self._json(
                "POST",
                "/upload/image",
                files={"image": (name, handle, "application/octet-stream")},
                data={"overwrite": "true", "type": "input"},
            )
        stored = body.get("name") or name
        return f"{body['subfolder']}/{stored}" if body.get("subfolder") else stored

    def submit(self, graph: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
        """POST /prompt; a rejected workflow is an InputError that lists each node's problems."""
        payload = {"prompt": graph, "client_id": self.client_id, "extra_data": extra or {}}
        response = self._request("POST", "/prompt", json=payload)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code == 400:
            raise InputError(f"ComfyUI at {self.url} rejected the workflow: {describe_rejection(body)}")
        if response.status_code >= 400 or not isinstance(body, dict) or not body.get("prompt_id"):
            raise EngineError(f"ComfyUI at {self.url} answered HTTP {response.status_code} to /prompt: {body}")
        return str(body["prompt_id"])

    def interrupt(self, prompt_id: str) -> None:
        self._request("POST", "/interrupt", json={"prompt_id": prompt_id})

    def delete(self, prompt_id: str) -> None:
        self._request("POST", "/queue", json={"delete": [prompt_id]})

    def download(self, item: dict[str, Any], target: Path) -> Path:
        """GET /view of one output (filename, subfolder, type) into `target`."""
        import httpx

        params = {"filename": item["filename"], "subfolder": item.get("subfolder", ""), "type": item.get("type")}
        try:
            with self.http.stream("GET", "/view", params=params) as response:
                if response.status_code >= 400:
                    raise EngineError(
                        f"ComfyUI at {self.url} answered HTTP {response.status_code} for output {item['filename']}"
                    )
                with target.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"lost the ComfyUI server at {self.url} while downloading: {exc}") from None
        return target

    # -- WebSocket -------------------------------------------------------------------------------
    def connect(self) -> ClientConnection:
        """The progress socket for this client id (messages of prompts submitted with it)."""
        from websockets.sync.client import connect

        scheme, rest = self.url.split("://", 1)
        address = f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws?clientId={self.client_id}"
        try:
            connection = connect(
                address, additional_headers=self.headers, open_timeout=CONNECT_TIMEOUT, max_size=64 * 2**20
            )
        except Exception as exc:  # websockets raises OSError, InvalidHandshake, TimeoutError ...
            raise EngineUnavailable(f"cannot open ComfyUI's progress socket at {address}: {exc}") from None
        return connection.__enter__()  # the caller closes it; entering says so to websockets
