"""Health, stats and engines."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cadenza import __version__
from cadenza.api.deps import SettingsDep, StoreDep
from cadenza.engines import registry
from cadenza.jobs.workers import engine_locations
from cadenza.tasks import TASK_MODELS

router = APIRouter(tags=["system"])
health_router = APIRouter(tags=["system"])


@health_router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/stats")
def stats(store: StoreDep) -> dict[str, Any]:
    """Queue depth, running jobs, jobs per status and mean run time per engine."""
    figures = store.stats()
    per_status = figures["jobs_per_status"]
    return {"queue_depth": per_status["queued"], "running": per_status["running"], **figures}


@router.get("/engines")
def engines(store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    """Every engine, the tasks it serves, whether it can run here (and why not), the live workers that
    offer it, and the JSON schema of each task's input and of the engine's advanced parameters."""
    where = engine_locations(store, settings.stale_after_seconds)
    items = []
    for info in registry.describe():
        advanced = registry.advanced_schemas(info.name) if info.available else {}
        items.append(
            {
                "name": info.name,
                "tasks": list(info.tasks),
                "available": info.available,
                "reason": info.reason,
                "workers": where.get(info.name, []),
                "advanced_schema": advanced,
            }
        )
    return {
        "engines": items,
        "defaults": registry.DEFAULTS,
        "tasks": {name: model.model_json_schema() for name, model in TASK_MODELS.items()},
    }
