"""What a plugin's figures say: its running totals per hook point and mode (calls, how
they ended, what they answered, latency from the histogram), its circuit breakers as the
processes last reported them, and the summary of one page of its call log.

Percentiles from the histogram are the upper bound of the bucket they fall in ("at most"),
as Prometheus' ``histogram_quantile`` would bound them; the call-log summary is exact over
the page it summarises.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mairust.model.plugins import BreakerReport, HookCall, HookCallCount, HookLatencyCount


@dataclass(frozen=True, slots=True)
class PointFigures:
    point: str
    mode: str
    calls: int
    by_outcome: dict[str, int]
    by_verdict: dict[str, int]
    latency_mean_ms: float | None
    # Upper bounds of the buckets the 50th and 99th percentile fall in (None: no calls;
    # inf: slower than the largest bound).
    latency_p50_at_most_ms: float | None
    latency_p99_at_most_ms: float | None


@dataclass(frozen=True, slots=True)
class BreakerFigure:
    holder: str
    state: str  # open | closed
    changed_at: datetime
    # While open: when it lets one trial call through.
    trial_after: datetime | None
    times_opened: int


@dataclass(frozen=True, slots=True)
class PluginFigures:
    plugin: str
    points: tuple[PointFigures, ...]
    breakers: tuple[BreakerFigure, ...]

    @property
    def shed_by(self) -> int:
        """How many processes report the plugin's circuit open."""
        return sum(1 for breaker in self.breakers if breaker.state == "open")


@dataclass(frozen=True, slots=True)
class CallSummary:
    calls: int
    by_outcome: dict[str, int]
    by_verdict: dict[str, int]
    latency_p50_ms: float | None
    latency_p99_ms: float | None


def plugin_figures(
    plugin: str,
    counts: Iterable[HookCallCount],
    latency: Iterable[HookLatencyCount],
    breakers: Iterable[BreakerReport],
) -> PluginFigures:
    grouped: dict[tuple[str, str], list[HookCallCount]] = {}
    for count in counts:
        grouped.setdefault((count.point, count.mode), []).append(count)
    histograms: dict[tuple[str, str], list[HookLatencyCount]] = {}
    for bucket in latency:
        histograms.setdefault((bucket.point, bucket.mode), []).append(bucket)
    points = []
    for (point, mode), rows in sorted(grouped.items()):
        calls = sum(row.calls for row in rows)
        by_outcome: Counter[str] = Counter()
        by_verdict: Counter[str] = Counter()
        for row in rows:
            by_outcome[row.outcome] += row.calls
            by_verdict[row.verdict] += row.calls
        histogram = histograms.get((point, mode), [])
        points.append(
            PointFigures(
                point,
                mode,
                calls,
                dict(by_outcome),
                dict(by_verdict),
                round(sum(row.latency_ms_sum for row in rows) / calls, 2) if calls else None,
                histogram_quantile(histogram, 0.50),
                histogram_quantile(histogram, 0.99),
            )
        )
    return PluginFigures(plugin, tuple(points), tuple(_breaker(b) for b in breakers))


def histogram_quantile(buckets: Sequence[HookLatencyCount], fraction: float) -> float | None:
    """The upper bound of the bucket holding the ``fraction`` quantile."""
    total = sum(bucket.calls for bucket in buckets)
    if total == 0:
        return None
    wanted = math.ceil(fraction * total)
    seen = 0
    for bucket in sorted(buckets, key=lambda b: b.le_ms):
        seen += bucket.calls
        if seen >= wanted:
            return bucket.le_ms
    return math.inf


def summarise_calls(calls: Sequence[HookCall]) -> CallSummary:
    latencies = sorted(call.latency_ms for call in calls)
    return CallSummary(
        len(calls),
        dict(Counter(call.outcome for call in calls)),
        dict(Counter(call.verdict for call in calls)),
        _percentile(latencies, 0.50),
        _percentile(latencies, 0.99),
    )


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


def _breaker(report: BreakerReport) -> BreakerFigure:
    trial_after = (
        report.changed_at + timedelta(seconds=report.open_seconds)
        if report.state == "open"
        else None
    )
    return BreakerFigure(
        report.holder, report.state, report.changed_at, trial_after, report.times_opened
    )
