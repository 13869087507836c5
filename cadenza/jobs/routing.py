"""Which engine a submitted job goes to when the API's host and the workers offer different engines.

On a routed queue (Redis, one list per engine) a job may name an engine the API's own host cannot
run: an API on a CPU box, LTX on a GPU worker. It is accepted when

- this host can run the engine (as on a single machine), or
- a live worker offers it, or
- a worker that offered it is still on record: its heartbeat stopped less than an hour ago (it died
  or lost its link and is expected back), so the job waits, its stage saying "waiting for a worker
  with ltx". A worker that stops on purpose removes its row, and with it that promise.

Otherwise the job is refused, naming where each engine of the task is offered. On the embedded queue
(SQLite, one host) the host's own availability decides, as before: every consumer there takes every job.

The request is checked against the engine's own rules here whenever the engine's class can be
imported without its weights (LTX's shape rules on a CPU box); otherwise the worker checks it and a
broken request becomes a failed job saying what was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.config import Settings
from cadenza.engines import registry
from cadenza.engines.base import Engine, SourceAudio
from cadenza.errors import EngineUnavailable
from cadenza.jobs.store import Store
from cadenza.jobs.workers import engine_locations, engines_on_record
from cadenza.tasks import TaskRequest


@dataclass(frozen=True)
class Route:
    name: str
    engine: Engine | None  # the engine object when this host can build it, to check the request here


def is_routed(settings: Settings) -> bool:
    """A Redis queue: jobs go to per-engine lists that only workers offering the engine pop."""
    return bool(settings.queue_url) and settings.queue_url.startswith(("redis://", "rediss://", "unix://"))  # type: ignore[union-attr]


def choose(
    settings: Settings, store: Store, task: str, engine: str | None, source: SourceAudio | None, request: TaskRequest
) -> Route:
    """The engine `task` goes to (the one asked for, or the task's default) and its object if built here."""
    try:
        chosen = registry.pick(task, engine, source, request)
        return Route(chosen.name, chosen)
    except EngineUnavailable as unavailable:
        name = engine or registry.default_engine(task, source)
        if name is None or not is_routed(settings):
            raise
        live = engine_locations(store, settings.stale_after_seconds)
        if name not in live and name not in engines_on_record(store):
            raise EngineUnavailable(
                f"{unavailable.message}; no worker offers it either. Where the engines for {task} are offered: "
                f"{offers(task, live)}",
                details={"offered": {n: live.get(n, []) for n in serving(task)}},
            ) from None
        try:
            instance = registry.load(name)
        except EngineUnavailable:  # its package is missing here: the worker checks the request
            instance = None
        return Route(name, instance)


def serving(task: str) -> list[str]:
    return [name for name, (_, tasks) in registry.ENGINES.items() if task in tasks]


def offers(task: str, live: dict[str, list[str]]) -> str:
    """`motion: this host, worker gpu-1:311; ltx: no live worker (...)` for the engines serving `task`."""
    parts = []
    for name in serving(task):
        try:
            here, reason = registry.load(name).available()
        except EngineUnavailable as exc:
            here, reason = False, exc.message
        places = (["this host"] if here else []) + [f"worker {worker}" for worker in live.get(name, [])]
        parts.append(f"{name}: {', '.join(places)}" if places else f"{name}: nowhere ({reason[:160]})")
    return "; ".join(parts)
