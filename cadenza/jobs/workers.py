"""Workers announce what they can run (engines, devices, free memory) with a heartbeat row; queued jobs
for an engine no live worker offers say so in their stage ("waiting for a worker with ltx").

Routing itself happens in the queue (one Redis list per engine, see queue.py); this module is the
record of who is there, read by the API (`GET /api/v1/workers`, engines), the CLI and /metrics.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from cadenza.jobs.models import Job, Worker, utcnow
from cadenza.jobs.recovery import process_prefix
from cadenza.jobs.store import Store

log = logging.getLogger("cadenza.workers")
WAITING_PREFIX = "waiting for a worker with "
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Offer:
    """What this process tells the others it can do."""

    engines: tuple[str, ...]
    device: str
    concurrency: int


def describe_devices(device: str) -> list[dict[str, Any]]:
    """[{name, total_mb, free_mb}] for the device this worker runs on (torch only for a CUDA device)."""
    if device.startswith("cuda"):
        try:
            import torch

            index = int(device.split(":")[1]) if ":" in device else 0
            free, total = torch.cuda.mem_get_info(index)
            return [{"name": device, "total_mb": total // 2**20, "free_mb": free // 2**20}]
        except Exception as exc:  # no torch, no driver: say so rather than crash the worker
            return [{"name": device, "total_mb": None, "free_mb": None, "error": str(exc)[:200]}]
    total = free = None
    try:
        with open("/proc/meminfo") as meminfo:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in meminfo}
        total, free = fields["MemTotal"] // 1024, fields["MemAvailable"] // 1024
    except (OSError, KeyError, ValueError):
        pass
    return [{"name": device or "cpu", "total_mb": total, "free_mb": free}]


def announce(store: Store, worker_id: str, offer: Offer) -> None:
    """Insert or refresh this worker's row (its id is unique to the process, so no two writers race)."""
    now = utcnow()
    prefix = worker_id + ":"
    with store.sessions.begin() as session:
        running = session.scalar(
            select(func.count()).select_from(Job).where(Job.status == "running", Job.worker_id.like(f"{prefix}%"))
        )
        values = {
            "engines": list(offer.engines),
            "devices": describe_devices(offer.device),
            "concurrency": offer.concurrency,
            "running": running or 0,
            "heartbeat_at": now,
        }
        if not session.execute(update(Worker).where(Worker.id == worker_id).values(**values)).rowcount:
            session.add(Worker(id=worker_id, host=socket.gethostname(), started_at=now, **values))
        session.execute(delete(Worker).where(Worker.heartbeat_at < now - FORGET_AFTER))


def forget(store: Store, worker_id: str) -> None:
    with store.sessions.begin() as session:
        session.execute(delete(Worker).where(Worker.id == worker_id))


def live_workers(store: Store, within_seconds: float) -> list[Worker]:
    cutoff = utcnow() - timedelta(seconds=within_seconds)
    with store.sessions() as session:
        return list(session.scalars(select(Worker).where(Worker.heartbeat_at >= cutoff).order_by(Worker.id)))


def engine_locations(store: Store, within_seconds: float) -> dict[str, list[str]]:
    """engine -> ids of the live workers that offer it."""
    where: dict[str, list[str]] = {}
    for worker in live_workers(store, within_seconds):
        for engine in worker.engines:
            where.setdefault(engine, []).append(worker.id)
    return where


def engines_on_record(store: Store) -> set[str]:
    """Engines of every worker still on record, live or not: one whose heartbeat stopped (killed, cut
    off) stays for FORGET_AFTER, and its engines count as expected back."""
    with store.sessions() as session:
        return {engine for engines in session.scalars(select(Worker.engines)) for engine in engines}


def mark_waiting(store: Store, within_seconds: float) -> None:
    """Queued jobs whose engine no live worker offers say which worker they wait for; the others say
    `queued` again once one appears."""
    offered = set(engine_locations(store, within_seconds))
    with store.sessions() as session:
        waiting = set(session.scalars(select(Job.engine).where(Job.status == "queued").distinct()))
    with store.sessions.begin() as session:
        for engine in waiting:
            condition = [Job.status == "queued", Job.engine == engine]
            if engine in offered:  # only undo our own note; keep stages such as `requeued`
                stage = "queued"
                condition.append(Job.stage.like(f"{WAITING_PREFIX}%"))
            else:
                stage = f"{WAITING_PREFIX}{engine}"[:64]
                condition.append(Job.stage != stage)
            session.execute(update(Job).where(*condition).values(stage=stage))


def worker_public(worker: Worker) -> dict[str, Any]:
    return {
        "id": worker.id,
        "host": worker.host,
        "engines": list(worker.engines),
        "devices": list(worker.devices),
        "concurrency": worker.concurrency,
        "running": worker.running,
        "started_at": worker.started_at,
        "heartbeat_at": worker.heartbeat_at,
    }


def announce_interval(settings: Any) -> float:
    """A quarter of the stale threshold (at most 1 s): a worker counts as live for the whole threshold."""
    return min(1.0, settings.stale_after_seconds / 4)


def this_process_id() -> str:
    """`host:pid`: job worker ids of this process start with it (see recovery.process_prefix)."""
    return process_prefix().rstrip(":")


class Announcer(threading.Thread):
    """Refreshes this worker's row and the waiting stages, every `interval` seconds. With no offer it
    only marks waiting jobs (the API process with no embedded workers)."""

    def __init__(self, store: Store, offer: Offer | None, interval: float, live_within: float) -> None:
        super().__init__(name="cadenza-announcer", daemon=True)
        self.store, self.offer, self.interval, self.live_within = store, offer, interval, live_within
        self.worker_id = this_process_id()
        self.stopped = threading.Event()

    def beat(self) -> None:
        if self.offer is not None:
            announce(self.store, self.worker_id, self.offer)
        mark_waiting(self.store, self.live_within)

    def run(self) -> None:
        while True:
            try:
                self.beat()
            except Exception:  # a database hiccup or a cut link: the next beat retries
                log.warning("announcing worker %s failed", self.worker_id, exc_info=True)
            if self.stopped.wait(self.interval):
                break

    def stop(self) -> None:
        self.stopped.set()
        if self.offer is not None:
            try:
                forget(self.store, self.worker_id)
            except Exception:
                log.warning("could not remove worker %s from the record", self.worker_id)
