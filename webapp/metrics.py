"""``GET /metrics``: Prometheus text format (prometheus-client).

Where each figure comes from (docs/operations.md):

- **the database, at scrape time**: tasks by state, attempts and failures by store and error kind,
  purchases and money spent, workers alive, task run and wait time histograms (over the tasks
  retention keeps), and each live worker's browser contexts and Chromium memory (its worker row,
  written with every third heartbeat). Any web process answers the same truth, however many
  workers and web processes run: scrape one.
- **Redis, at scrape time**: the stream's length and its delivered-but-unacknowledged entries.
- **this web process**: the live hub's lag (event written → NOTIFY received here), labelled with
  the process. With several web processes, scrape each (per-process endpoints) for that one.

Who may read it: ``Authorization: Bearer $TASKDECK_METRICS_TOKEN`` (a scraper's own secret),
or an admin's API token or dashboard session. Anyone else: 401/404 like the rest of the API.
"""

from __future__ import annotations

import hmac
import os
import socket
from collections.abc import Iterable

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from models import metrics
from webapp.api.errors import NotFound, Unavailable, api_router
from webapp.auth import api_viewer, bearer_token
from webapp.services import Services
from webapp.stream_figures import queue_figures

PROCESS = f"{socket.gethostname()}-{os.getpid()}"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format


class _Snapshot(Collector):
    """Families built from one scrape's figures (a fresh registry per scrape)."""

    def __init__(self, figures: metrics.Figures, queue: dict[str, int]) -> None:
        self.figures, self.queue = figures, queue

    def collect(self) -> Iterable[Metric]:
        f = self.figures
        tasks = GaugeMetricFamily("taskdeck_tasks", "Tasks by state (the database)", labels=["state"])
        for state, n in sorted(f.tasks.items()):
            tasks.add_metric([state], n)
        yield tasks
        attempts = CounterMetricFamily(
            "taskdeck_attempts", "Finished attempts by store and outcome", labels=["store", "outcome"]
        )
        for (store, outcome), n in sorted(f.attempts.items()):
            attempts.add_metric([store, outcome], n)
        yield attempts
        failures = CounterMetricFamily(
            "taskdeck_attempt_failures",
            "Attempts that did not succeed, by store and kind",
            labels=["store", "kind"],
        )
        for (store, kind), n in sorted(f.failures.items()):
            failures.add_metric([store, kind], n)
        yield failures
        bought = CounterMetricFamily("taskdeck_purchases", "Purchases made", labels=["currency"])
        spent = CounterMetricFamily("taskdeck_money_spent", "Money spent on purchases", labels=["currency"])
        for currency in sorted(f.purchases):
            bought.add_metric([currency], f.purchases[currency])
            spent.add_metric([currency], float(f.spent[currency]))
        yield bought
        yield spent
        workers = GaugeMetricFamily("taskdeck_workers", "Worker processes by status", labels=["status"])
        for status, n in sorted(f.workers.items()):
            workers.add_metric([status], n)
        yield workers
        contexts = GaugeMetricFamily(
            "taskdeck_browser_contexts_open", "Browser contexts open, per live worker", labels=["worker"]
        )
        memory = GaugeMetricFamily(
            "taskdeck_chromium_memory_bytes",
            "Chromium's memory (PSS, else RSS), per live worker",
            labels=["worker"],
        )
        for b in f.browsers:
            contexts.add_metric([b["worker"]], b["contexts"] or 0)
            if b["memory_mb"] is not None:
                memory.add_metric([b["worker"]], b["memory_mb"] * 2**20)
        yield contexts
        yield memory
        for name, doc, hist in (
            ("taskdeck_task_run_seconds", "Started to finished, finished tasks", f.run_time),
            ("taskdeck_task_wait_seconds", "Queued to started, started tasks", f.wait_time),
        ):
            assert hist is not None
            buckets = [("+Inf" if b == float("inf") else repr(b), n) for b, n in hist.buckets]
            yield HistogramMetricFamily(name, doc, buckets=buckets, sum_value=hist.total)
        depth = GaugeMetricFamily("taskdeck_queue", "The Redis stream", labels=["what"])
        for what, n in sorted(self.queue.items()):
            depth.add_metric([what], n)
        yield depth


def create_metrics_router(services: Services) -> APIRouter:
    router = api_router(include_in_schema=False)
    resolve = api_viewer(services)
    process = CollectorRegistry(auto_describe=True)  # this web process's own figures
    lag = Histogram(
        "taskdeck_live_hub_lag_seconds",
        "Event written to NOTIFY received by this web process's live hub",
        labelnames=["process"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        registry=process,
    ).labels(PROCESS)
    services.hub.on_lag = lag.observe

    async def allowed(request: Request) -> None:
        token, expected = bearer_token(request), services.settings.metrics_token
        if token is not None and expected and hmac.compare_digest(token.encode(), expected.encode()):
            return
        viewer = await resolve(request)  # 401 without a valid token or session
        if not viewer.is_admin:
            raise NotFound("not found")

    @router.get("/metrics")
    async def scrape(request: Request) -> Response:
        try:
            await services.wait_ready()
        except TimeoutError:
            raise Unavailable("Taskdeck is still starting; try again in a moment") from None
        await allowed(request)
        async with services.db.session() as session:
            figures = await metrics.figures(session)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(figures, await queue_figures(services)))
        body = generate_latest(registry) + generate_latest(process)
        return Response(body, media_type=CONTENT_TYPE)

    return router
