"""Prometheus metrics of the plugins, read from the metadata store at scrape time: calls by
outcome and verdict, the call latency histogram, and how many processes shed each plugin.

The store keeps the running totals beside the call log (``hook_call_counts``,
``hook_call_latency``), written by every process that calls plugins, so any API replica
reports the whole platform's figures, and they only grow (an uninstall starts them again).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from mairust.errors import MairustError
from mairust.model.plugins import LATENCY_BUCKETS_MS, HookCallCount, HookLatencyCount
from mairust.storage.protocols import PluginStore

_MS = 1000.0


class PluginCollector:
    def __init__(self, store: PluginStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self._store.hook_call_counts()
            latency = self._store.hook_latency_counts()
            breakers = self._store.breaker_reports()
        except MairustError:
            return  # mairust_metadata_up (the queue collector) says the store is away
        calls = CounterMetricFamily(
            "mairust_plugin_calls",
            "Plugin calls at hook points, by how they ended and the verdict they stood for "
            "(shadow bindings' beside enforced ones).",
            labels=["plugin", "point", "mode", "outcome", "verdict"],
        )
        for count in counts:
            calls.add_metric(
                [count.plugin, count.point, count.mode, count.outcome, count.verdict],
                count.calls,
            )
        yield calls
        yield _histogram(counts, latency)
        shed = GaugeMetricFamily(
            "mairust_plugin_circuit_open",
            "Processes whose circuit breaker sheds the plugin's calls now.",
            labels=["plugin"],
        )
        opened: dict[str, int] = {}
        for report in breakers:
            opened[report.plugin] = opened.get(report.plugin, 0) + (report.state == "open")
        for plugin, processes in sorted(opened.items()):
            shed.add_metric([plugin], processes)
        yield shed


def _histogram(
    counts: list[HookCallCount], latency: list[HookLatencyCount]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "mairust_plugin_call_duration_seconds",
        "Time from a plugin call to its answer (or to the deadline), by point and mode.",
        labels=["plugin", "point", "mode"],
    )
    sums: dict[tuple[str, str, str], float] = {}
    for count in counts:
        key = (count.plugin, count.point, count.mode)
        sums[key] = sums.get(key, 0.0) + count.latency_ms_sum
    buckets: dict[tuple[str, str, str], list[HookLatencyCount]] = {}
    for bucket in latency:
        buckets.setdefault((bucket.plugin, bucket.point, bucket.mode), []).append(bucket)
    for key, rows in sorted(buckets.items()):
        per_bound = {row.le_ms: row.calls for row in rows}
        # Every bound, each scrape (empty ones too): the series of a histogram stay put.
        cumulative = accumulate(per_bound.get(bound, 0) for bound in LATENCY_BUCKETS_MS)
        family.add_metric(
            list(key),
            [
                (_bound(bound), total)
                for bound, total in zip(LATENCY_BUCKETS_MS, cumulative, strict=True)
            ],
            sum_value=sums.get(key, 0.0) / _MS,
        )
    return family


def _bound(le_ms: float) -> str:
    return "+Inf" if math.isinf(le_ms) else repr(le_ms / _MS)
