"""``/metrics`` (Prometheus' text format), ``/healthz`` and ``/readyz``.

The figures are read from the store when Prometheus scrapes (a collector, not counters
kept in memory), so every server sharing a database shows the same totals and a restart
loses nothing; this process's own load (runs executing, waiting for a slot, the slot
limit) is labelled with its process id. ``/metrics`` needs a token of a site
administrator (read scope is enough: give Prometheus one); the health checks need none
and say nothing but whether this process can serve.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from containerops.server.deps import Caller, Manager, StoreDep
from containerops.server.errors import WITH_TOKEN, ApiError, error_responses
from containerops.server.manager import RunManager
from containerops.store import Store
from containerops.store.metrics import figures, reachable
from containerops.store.values import utcnow

router = APIRouter(tags=["operations"])

RUN_STATES = ("pending", "running", "paused", "success", "failure", "cancelled")
JOB_STATES = ("pending", "running", "success", "failure", "skipped", "cancelled")


class StoreCollector(Collector):
    """What the store holds, read at each scrape."""

    def __init__(self, store: Store, manager: RunManager) -> None:
        self.store = store
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        found = figures(self.store)
        runs = GaugeMetricFamily("coops_runs", "Runs by state.", labels=["state"])
        for state in RUN_STATES:
            runs.add_metric([state], found.runs.get(state, 0))
        yield runs
        jobs = GaugeMetricFamily("coops_live_jobs", "Jobs of unfinished runs, by state.", labels=["state"])
        for state in JOB_STATES:
            jobs.add_metric([state], found.live_jobs.get(state, 0))
        yield jobs
        age = 0.0 if found.oldest_queued is None else (utcnow() - found.oldest_queued).total_seconds()
        yield GaugeMetricFamily(
            "coops_queue_depth", "Runs waiting to start.", value=found.runs.get("pending", 0)
        )
        yield GaugeMetricFamily(
            "coops_queue_oldest_seconds", "Age of the oldest waiting run.", value=max(age, 0.0)
        )
        deliveries = CounterMetricFamily(
            "coops_webhook_deliveries", "Webhook deliveries received, by verdict.", labels=["verdict"]
        )
        for verdict, count in sorted(found.deliveries.items()):
            deliveries.add_metric([verdict], count)
        yield deliveries
        notifications = GaugeMetricFamily("coops_notifications", "Notifications by state.", labels=["state"])
        for state, count in sorted(found.notifications.items()):
            notifications.add_metric([state], count)
        yield notifications
        yield CounterMetricFamily("coops_log_lines_stored", "Log lines stored.", value=found.log_lines)
        worker_jobs = GaugeMetricFamily(
            "coops_worker_jobs",
            "Job attempts put up for workers, by state (lost: leases expired).",
            labels=["state"],
        )
        for state in ("ready", "claimed", "done", "lost", "cancelled"):
            worker_jobs.add_metric([state], found.worker_jobs.get(state, 0))
        yield worker_jobs
        yield GaugeMetricFamily("coops_workers", "Workers with a recent heartbeat.", value=found.live_workers)
        yield GaugeMetricFamily(
            "coops_worker_slots", "Jobs the live workers run at most at once.", value=found.worker_slots
        )
        latency = found.claim_latency
        yield HistogramMetricFamily(
            "coops_claim_latency_seconds",
            "From a job attempt put up for workers to a worker's claim of it.",
            buckets=[(repr(bound), count) for bound, count in latency.buckets] + [("+Inf", latency.count)],
            sum_value=latency.total,
        )
        executing, waiting = self.manager.load
        process = [str(os.getpid())]
        for name, text, value in (
            ("coops_process_runs_executing", "Runs this server process executes now.", executing),
            ("coops_process_runs_waiting", "Runs of this server process waiting for a slot.", waiting),
            (
                "coops_process_run_slots",
                "Runs this server process executes at most at once.",
                self.manager.max_concurrent_runs,
            ),
        ):
            gauge = GaugeMetricFamily(name, text, labels=["pid"])
            gauge.add_metric(process, value)
            yield gauge


def registry_for(store: Store, manager: RunManager) -> CollectorRegistry:
    """A registry of the application's own (not the global one: several apps in a process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, manager))
    return registry


@router.get(
    "/metrics",
    summary="Prometheus metrics (a site administrator's token)",
    responses={**WITH_TOKEN, 200: {"description": "Prometheus' text format", "content": {"text/plain": {}}}},
)
async def metrics(request: Request, caller: Caller) -> Response:
    if not caller.admin:
        raise ApiError(
            "metrics are for site administrators: use a token of one (read scope is enough)", status=403
        )
    registry: CollectorRegistry = request.app.state.metrics
    return Response(await run_in_threadpool(generate_latest, registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", summary="Whether this process serves (no token)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Whether this process can serve requests: its database answers (no token)",
    responses=error_responses(503),
)
async def readyz(store: StoreDep, manager: Manager) -> dict[str, str]:
    if not manager.ready:
        raise ApiError("not ready: the server is starting or stopping", status=503)
    if not await run_in_threadpool(reachable, store):
        raise ApiError("not ready: the database does not answer", status=503)
    return {"status": "ready"}
