"""/api/v1/workers: the live workers, what they offer and what they are running."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cadenza.api.deps import SettingsDep, StoreDep
from cadenza.jobs.workers import live_workers, worker_public

router = APIRouter(tags=["workers"])


@router.get("/workers")
def workers(store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    """Workers whose heartbeat is newer than the stale threshold (CADENZA_STALE_AFTER_SECONDS)."""
    return {"items": [worker_public(w) for w in live_workers(store, settings.stale_after_seconds)]}
