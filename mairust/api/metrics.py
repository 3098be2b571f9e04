"""Prometheus metrics of one API app: its own registry, request counts and latencies,
and the queue's state read from the metadata store.

Each app gets its own ``CollectorRegistry`` (no process-wide globals), so several
apps in one process — tests, or Serve replicas sharing a worker — never clash.
Requests are labelled by route *template* (``/api/v1/messages/{entry_id}``), never by
the raw path, so label cardinality stays bounded and no ids leak into metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mairust.api.plugin_metrics import PluginCollector
from mairust.api.telemetry_metrics import ProcessTelemetryCollector
from mairust.errors import MairustError
from mairust.model.outbound import RecipientState
from mairust.model.queue import QueueState
from mairust.storage.protocols import MetadataStore
from mairust.telemetry import TelemetrySource

METRICS_MEDIA_TYPE = CONTENT_TYPE_LATEST
# A path no route matched: an unknown API path (every other GET is the web UI's, "/{web_ui}").
UNMATCHED_ROUTE = "<unmatched>"

# Seconds; an API call that reads one blob should stay well under 100 ms.
# Destinations reported by name: a queue for thousands of domains must not make thousands
# of series.
_TOP_DESTINATIONS = 20
# Leased rows are at most the workers' batches in flight; more than this is a queue to see.
_LEASES_LOOKED_AT = 5000
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class QueueCollector:
    """Queue rows per state and the search backlog, read from the metadata store at scrape
    time (the store is the queue's truth, so every API replica reports the same numbers).

    Leases are not renewed, so a lease began ``lease_seconds`` before its ``lease_until``:
    the oldest lease's age says how long a worker has held rows (past ``lease_seconds``
    they are overdue and come back to the queue)."""

    def __init__(
        self,
        metadata: MetadataStore,
        lease_seconds: float = 60.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._metadata = metadata
        self._lease_seconds = lease_seconds
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "mairust_metadata_up", "1 when the metadata store answered this scrape, else 0."
        )
        try:
            counts = self._metadata.queue_counts()
            backlog = self._metadata.search_backlog_size()
            outbound = self._metadata.outbound_counts()
            now = self._clock()
            oldest_due = self._metadata.oldest_due_at(now)
            leased = self._metadata.list_queue(QueueState.LEASED, _LEASES_LOOKED_AT)
        except MairustError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        rows = GaugeMetricFamily(
            "mairust_queue_rows", "Queue rows (message x recipient) by state.", labels=["state"]
        )
        for state in QueueState:
            rows.add_metric([state.value], counts.get(state, 0))
        yield rows
        yield GaugeMetricFamily(
            "mairust_queue_oldest_due_age_seconds",
            "How long the oldest queue row due for delivery has waited (0: none due).",
            value=0.0 if oldest_due is None else max((now - oldest_due).total_seconds(), 0.0),
        )
        lease_ends = [item.lease_until for item in leased if item.lease_until is not None]
        began = min(lease_ends) - timedelta(seconds=self._lease_seconds) if lease_ends else None
        yield GaugeMetricFamily(
            "mairust_queue_oldest_lease_age_seconds",
            "Age of the oldest lease held on a queue row (0: none held).",
            value=0.0 if began is None else max((now - began).total_seconds(), 0.0),
        )
        yield GaugeMetricFamily(
            "mairust_search_backlog_entries",
            "Mailbox entries waiting to be indexed (left by a search outage).",
            value=backlog,
        )
        remote = GaugeMetricFamily(
            "mairust_outbound_recipients",
            "Outbound recipients (message x remote recipient) by state.",
            labels=["state"],
        )
        for recipient_state in RecipientState:
            remote.add_metric([recipient_state.value], outbound.by_state.get(recipient_state, 0))
        yield remote
        waiting = GaugeMetricFamily(
            "mairust_outbound_waiting",
            "Outbound recipients waiting or in flight, for the destinations with the most.",
            labels=["destination"],
        )
        busiest = sorted(outbound.pending_by_destination.items(), key=lambda kv: -kv[1])
        for destination, count in busiest[:_TOP_DESTINATIONS]:
            waiting.add_metric([destination], count)
        yield waiting


class ApiMetrics:
    """The collectors of one API app."""

    def __init__(
        self,
        metadata: MetadataStore | None = None,
        telemetry: TelemetrySource | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        """``telemetry`` adds every process's own counters (the front-ends', workers',
        delivery loops'); ``lease_seconds`` is ``queue.lease_seconds``."""
        self.registry = CollectorRegistry(auto_describe=True)
        if metadata is not None:
            self.registry.register(QueueCollector(metadata, lease_seconds))
            self.registry.register(PluginCollector(metadata))
        if telemetry is not None:
            self.registry.register(ProcessTelemetryCollector(telemetry))
        self.requests = Counter(
            "mairust_api_requests_total",
            "HTTP requests answered by the API, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mairust_api_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class RequestMetricsMiddleware:
    """Counts and times every HTTP request, including those that end in an error."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if the app raises before starting a response
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.observe(
                scope.get("method", "?"),
                _route_template(scope),
                status,
                time.perf_counter() - started,
            )


def _route_template(scope: Scope) -> str:
    # The router stores the matched route in the (shared) scope dict.
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
    return UNMATCHED_ROUTE
