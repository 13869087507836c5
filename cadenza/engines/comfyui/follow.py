"""Follow one prompt on a ComfyUI server from POST /prompt to its history entry.

The socket carries `execution_start`, `executing` (the node now running; `node: null` when the prompt is
done), `progress` (value/max of the running node), `executed`, `execution_success`, `execution_error`
and `execution_interrupted`. A socket can drop (a proxy, a server restart): the follower reconnects with
the same client id and asks /history and /queue where the prompt is; a prompt that is in neither was
lost by the server and the job fails saying so. Silence is never trusted: every few seconds without a
message the follower asks /history itself, and it re-reports its progress at least every
KEEPALIVE_SECONDS so a long node (a VAE decode that sends nothing) still shows a live job.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cadenza.engines.base import RunContext
from cadenza.errors import Cancelled, EngineError, EngineUnavailable, OutOfTime

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

    from cadenza.engines.comfyui.client import ComfyClient

RECV_SECONDS = 0.25
KEEPALIVE_SECONDS = 2.0
POLL_SILENCE_SECONDS = 5.0
START, SPAN = 0.08, 0.84  # the share of the job's progress bar the server's execution fills


@dataclass
class Follower:
    client: ComfyClient
    ctx: RunContext
    graph: dict[str, Any]
    timeout_seconds: float
    reconnect_seconds: float
    socket: ClientConnection | None = None
    prompt_id: str = ""
    stage: str = "queued"
    fraction: float = START
    done_nodes: set[str] = field(default_factory=set)
    current: str | None = None
    last_report: float = 0.0
    last_message: float = 0.0
    events: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, type): for benchmarks

    def run(self) -> dict[str, Any]:
        """Submit the graph and return its history entry once it succeeded; raise otherwise."""
        self.socket = self.client.connect()  # before submitting, so no message of this prompt is missed
        try:
            self.prompt_id = self.client.submit(self.graph)
            self._report(START, "queued")
            return self._follow()
        finally:
            self._close()

    def _follow(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_seconds
        self.last_message = time.monotonic()
        while True:
            if self.ctx.cancel_event.is_set():
                self._cancel()
            if self.ctx.deadline is not None and time.monotonic() > self.ctx.deadline:
                self._stop_on_server()
                raise OutOfTime(
                    f"ran past its time budget of {self.ctx.budget_s:g} s (last stage: {self.stage}); "
                    "its ComfyUI prompt was stopped"
                )
            if time.monotonic() > deadline:
                self._cancel(reason=f"did not finish within {self.timeout_seconds:g} s (last stage: {self.stage})")
            message = self._receive()
            if message is not None:
                self.last_message = time.monotonic()
                if self._handle(message):
                    return self._finished()
            elif time.monotonic() - self.last_message > POLL_SILENCE_SECONDS:
                self.last_message = time.monotonic()
                entry = self._where()
                if entry is not None:
                    return self._finished(entry)
            if time.monotonic() - self.last_report >= KEEPALIVE_SECONDS:
                self._report(self.fraction, self.stage)

    def _receive(self) -> dict[str, Any] | None:
        from websockets.exceptions import ConnectionClosed

        try:
            raw = self.socket.recv(timeout=RECV_SECONDS) if self.socket else None
        except TimeoutError:
            return None
        except (ConnectionClosed, OSError):
            self._reconnect()
            return None
        if not isinstance(raw, str):  # binary frames are latent previews
            return None
        try:
            message = json.loads(raw)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def _handle(self, message: dict[str, Any]) -> bool:
        """Update progress from one message; True when this prompt has finished successfully."""
        kind, data = message.get("type"), message.get("data") or {}
        if data.get("prompt_id") not in (None, self.prompt_id):
            return False
        self.events.append((time.monotonic(), str(kind)))
        if kind == "execution_start":
            self._report(START, "started")
        elif kind == "execution_cached":
            self.done_nodes.update(str(node) for node in data.get("nodes") or [])
        elif kind == "executing":
            node = data.get("node")
            if node is None:
                return data.get("prompt_id") == self.prompt_id
            self._enter(str(node))
        elif kind == "progress":
            node = str(data.get("node") or "")
            share = float(data.get("value", 0)) / max(float(data.get("max", 1)), 1.0)
            self._report(self._node_fraction(share), f"{self._label(node)} {data.get('value')}/{data.get('max')}")
        elif kind == "executed":
            self.done_nodes.add(str(data.get("node")))
        elif kind == "execution_success":
            return True
        elif kind == "execution_error":
            raise EngineError(self._error_text(data))
        elif kind == "execution_interrupted":
            if self.ctx.cancel_event.is_set():
                raise Cancelled("the job was cancelled; ComfyUI interrupted the prompt")
            raise EngineError(f"ComfyUI interrupted prompt {self.prompt_id} at node {data.get('node_id')}")
        return False

    def _enter(self, node: str) -> None:
        if self.current is not None:
            self.done_nodes.add(self.current)  # ComfyUI runs one node at a time: the previous one is done
        self.current = node
        self._report(self._node_fraction(0.0), self._label(node))

    def _label(self, node: str) -> str:
        return str(self.graph.get(node, {}).get("class_type") or node)

    def _node_fraction(self, share: float) -> float:
        done = len(self.done_nodes & self.graph.keys())
        return START + SPAN * min(1.0, (done + share) / max(len(self.graph), 1))

    def _report(self, fraction: float, stage: str) -> None:
        self.fraction, self.stage = max(self.fraction, fraction), stage
        self.last_report = time.monotonic()
        self.ctx.progress(self.fraction, stage)

    def _error_text(self, data: dict[str, Any]) -> str:
        node = data.get("node_id")
        kind = data.get("node_type") or self._label(str(node))
        exception = data.get("exception_type", "error")
        return f"ComfyUI failed at node {node} ({kind}): {exception}: {data.get('exception_message', '').strip()}"

    def _where(self) -> dict[str, Any] | None:
        """Ask the server where the prompt is: its history entry once finished, None while queued; fails if
        the server no longer knows it."""
        entry = self.client.history(self.prompt_id)
        if entry is not None:
            return entry
        state = self.client.queued(self.prompt_id)
        if state is None:
            entry = self.client.history(self.prompt_id)  # it may have finished between the two questions
            if entry is not None:
                return entry
            raise EngineError(
                f"ComfyUI at {self.client.url} lost prompt {self.prompt_id}: it is neither queued, running nor "
                "in its history (was the server restarted?)"
            )
        if state == "pending" and self.stage in ("queued", "started"):
            self._report(self.fraction, "queued")
        return None

    def _reconnect(self) -> None:
        """Reopen the socket with the same client id, retrying until reconnect_seconds have passed."""
        self._close()
        give_up = time.monotonic() + self.reconnect_seconds
        delay = 0.2
        while True:
            if self.ctx.cancel_event.is_set():
                self._cancel()
            try:
                self.socket = self.client.connect()
                break
            except EngineUnavailable as exc:
                if time.monotonic() > give_up:
                    raise EngineUnavailable(
                        f"lost ComfyUI at {self.client.url} while following prompt {self.prompt_id} and could not "
                        f"reconnect within {self.reconnect_seconds:g} s: {exc.message}"
                    ) from None
                if time.monotonic() - self.last_report >= KEEPALIVE_SECONDS:
                    self._report(self.fraction, "reconnecting")
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.last_message = 0.0  # ask /history at once: the prompt may have ended while we were away

    def _finished(self, entry: dict[str, Any] | None = None) -> dict[str, Any]:
        entry = entry or self.client.history(self.prompt_id)
        deadline = time.monotonic() + 10
        while entry is None and time.monotonic() < deadline:  # success is announced just before history
            time.sleep(0.05)
            entry = self.client.history(self.prompt_id)
        if entry is None:
            raise EngineError(f"ComfyUI reported prompt {self.prompt_id} done but has no history for it")
        status = entry.get("status") or {}
        if status.get("status_str") == "error":
            for event, data in status.get("messages") or []:
                if event == "execution_error":
                    raise EngineError(self._error_text(data))
                if event == "execution_interrupted":
                    if self.ctx.cancel_event.is_set():
                        raise Cancelled("the job was cancelled; ComfyUI interrupted the prompt")
                    raise EngineError(f"ComfyUI interrupted prompt {self.prompt_id}")
            raise EngineError(f"ComfyUI prompt {self.prompt_id} failed: {status}")
        self._report(START + SPAN, "outputs")
        return entry

    def _cancel(self, reason: str | None = None) -> None:
        """Take the prompt off the server, then stop: as cancelled, or failed for `reason`."""
        self._stop_on_server()
        if reason is not None:
            raise EngineError(f"ComfyUI prompt {self.prompt_id} {reason}; it was stopped on the server")
        raise Cancelled("the job was cancelled; its ComfyUI prompt was stopped")

    def _stop_on_server(self) -> None:
        """Delete the prompt if it is pending, interrupt it if it is running; a gone server has nothing to stop."""
        if self.prompt_id:
            try:
                state = self.client.queued(self.prompt_id)
                if state == "pending":
                    self.client.delete(self.prompt_id)
                elif state == "running":
                    self.client.interrupt(self.prompt_id)
            except (EngineUnavailable, EngineError):
                pass  # the server is gone: nothing is left to stop

    def _close(self) -> None:
        if self.socket is not None:
            with contextlib.suppress(Exception):
                self.socket.close()
            self.socket = None
