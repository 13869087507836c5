"""/metrics in Prometheus text format: the job record and the live workers, read at scrape time, and
this API process's request latency.

Job figures come from the SQL record (the truth shared by every host), so any API replica reports the
same numbers and nothing is lost when a worker dies. Counters over the record (runs, failures) drop when
jobs are deleted; Prometheus treats that as a counter reset.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Response
from sqlalchemy import func, select

from cadenza.api.deps import require_token
from cadenza.jobs.models import STATUSES, Job
from cadenza.jobs.workers import live_workers

API_PREFIX = "/api/v1"
RUN_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class RecordCollector:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        settings, service, queue = self.app.state.settings, self.app.state.service, self.app.state.queue
        store = service.store
        with store.sessions() as session:
            per_status = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
            queued = dict(
                session.execute(
                    select(Job.engine, func.count()).where(Job.status == "queued").group_by(Job.engine)
                ).all()
            )
            failures = session.execute(
                select(Job.engine, Job.error_category, func.count())
                .where(Job.status == "failed")
                .group_by(Job.engine, Job.error_category)
            ).all()
            runs = session.execute(
                select(Job.engine, Job.task, Job.started_at, Job.finished_at).where(
                    Job.status == "succeeded", Job.started_at.is_not(None), Job.finished_at.is_not(None)
                )
            ).all()
        jobs = GaugeMetricFamily("cadenza_jobs", "Jobs in the record by status", labels=["status"])
        for status in STATUSES:
            jobs.add_metric([status], per_status.get(status, 0))
        yield jobs

        depth = GaugeMetricFamily("cadenza_queue_depth", "Queued jobs per engine", labels=["engine"])
        for engine, count in sorted(queued.items()):
            depth.add_metric([engine], count)
        yield depth
        if queue.routed:
            waiting = GaugeMetricFamily(
                "cadenza_queue_messages", "Messages in each engine's Redis list", labels=["engine"]
            )
            for engine in sorted(set(queued) | set(queue.engines)):
                waiting.add_metric([engine], queue.depth(engine))
            yield waiting

        failed = CounterMetricFamily(
            "cadenza_job_failures", "Failed jobs by engine and error category", labels=["engine", "category"]
        )
        for engine, category, count in failures:
            failed.add_metric([engine, category or "unknown"], count)
        yield failed

        histogram = HistogramMetricFamily(
            "cadenza_job_run_seconds", "Run time of succeeded jobs per engine and task", labels=["engine", "task"]
        )
        grouped: dict[tuple[str, str], list[float]] = {}
        for engine, task, started, finished in runs:
            grouped.setdefault((engine, task), []).append(_seconds(started, finished))
        for (engine, task), seconds in sorted(grouped.items()):
            buckets = [(str(bound), sum(1 for s in seconds if s <= bound)) for bound in RUN_BUCKETS]
            buckets.append(("+Inf", len(seconds)))
            histogram.add_metric([engine, task], buckets, sum(seconds))
        yield histogram

        workers = live_workers(store, settings.stale_after_seconds)
        yield GaugeMetricFamily("cadenza_workers", "Live workers (recent heartbeat)", value=len(workers))
        free = GaugeMetricFamily(
            "cadenza_worker_device_free_bytes", "Free memory per worker device", labels=["worker", "device"]
        )
        total = GaugeMetricFamily(
            "cadenza_worker_device_total_bytes", "Total memory per worker device", labels=["worker", "device"]
        )
        running = GaugeMetricFamily("cadenza_worker_running_jobs", "Jobs each worker is running", labels=["worker"])
        for worker in workers:
            running.add_metric([worker.id], worker.running)
            for device in worker.devices:
                if device.get("free_mb") is not None:
                    free.add_metric([worker.id, device["name"]], device["free_mb"] * 2**20)
                if device.get("total_mb") is not None:
                    total.add_metric([worker.id, device["name"]], device["total_mb"] * 2**20)
        yield from (running, free, total)


def _seconds(started: Any, finished: Any) -> float:
    from cadenza.jobs.store import _aware

    return max(0.0, (_aware(finished) - _aware(started)).total_seconds())


class RequestTimer:
    """Time every request to its response's start, by method, route and status.

    A plain ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) passed every response body
    chunk through a memory stream and a task, which cost each event of every open event stream."""

    def __init__(self, app: Any, latency: Any) -> None:
        self.app, self.latency = app, latency

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self._observe(scope, message["status"], time.perf_counter() - began)
            await send(message)

        await self.app(scope, receive, timed_send)

    def _observe(self, scope: Any, status: int, seconds: float) -> None:
        path = getattr(scope.get("route"), "path", None)
        if path is not None and scope["path"].startswith(API_PREFIX) and not path.startswith(API_PREFIX):
            path = API_PREFIX + path  # routes included under a prefix report their own path only
        if path is not None and path != "/metrics":  # unmatched paths stay out: no unbounded labels
            self.latency.labels(scope["method"], path, str(status)).observe(seconds)


def install(app: FastAPI) -> None:
    """Mount /metrics (behind the API token when one is set) and time every request."""
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
    except ImportError:  # the metrics extra is optional: no /metrics without it
        return
    registry = CollectorRegistry()
    registry.register(RecordCollector(app))
    latency = Histogram(
        "cadenza_http_request_seconds",
        "API request latency by method, route and status",
        ["method", "route", "status"],
        registry=registry,
    )

    app.add_middleware(RequestTimer, latency=latency)

    router = APIRouter(tags=["system"])

    @router.get("/metrics", dependencies=[Depends(require_token)], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
