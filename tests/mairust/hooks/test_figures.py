"""A plugin's figures from its running totals: grouped per point and mode, the mean, the
buckets its percentiles fall in, breakers with their trial time; a page's call summary."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from mairust.hooks.figures import histogram_quantile, plugin_figures, summarise_calls
from mairust.model.plugins import BreakerReport, HookCall, HookCallCount, HookLatencyCount

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def bucket(le_ms: float, calls: int, mode: str = "enforce") -> HookLatencyCount:
    return HookLatencyCount("p", "pre_receive", mode, le_ms, calls)


def test_percentiles_are_the_bounds_of_the_buckets_they_fall_in() -> None:
    buckets = [bucket(5.0, 90), bucket(1.0, 5), bucket(100.0, 4), bucket(math.inf, 1)]
    assert histogram_quantile(buckets, 0.50) == 5.0
    assert histogram_quantile(buckets, 0.05) == 1.0
    assert histogram_quantile(buckets, 0.99) == 100.0
    assert histogram_quantile(buckets, 1.0) == math.inf
    assert histogram_quantile([], 0.5) is None


def test_figures_per_point_and_mode_with_breakers() -> None:
    counts = [
        HookCallCount("p", "pre_receive", "enforce", "answered", "reject", 3, 9.0),
        HookCallCount("p", "pre_receive", "enforce", "timeout", "tempfail", 1, 2000.0),
        HookCallCount("p", "pre_receive", "shadow", "answered", "continue", 2, 2.0),
    ]
    latency = [bucket(5.0, 3), bucket(2500.0, 1), bucket(1.0, 2, "shadow")]
    reports = [
        BreakerReport("p", "smtp@h:1", "open", NOW, 30.0, 2),
        BreakerReport("p", "api@h:2", "closed", NOW, 30.0, 1),
    ]
    figures = plugin_figures("p", counts, latency, reports)
    enforce, shadow = figures.points
    assert (enforce.mode, enforce.calls, enforce.latency_mean_ms) == ("enforce", 4, 502.25)
    assert enforce.by_outcome == {"answered": 3, "timeout": 1}
    assert enforce.by_verdict == {"reject": 3, "tempfail": 1}
    assert (enforce.latency_p50_at_most_ms, enforce.latency_p99_at_most_ms) == (5.0, 2500.0)
    assert (shadow.mode, shadow.calls, shadow.by_verdict) == ("shadow", 2, {"continue": 2})
    assert figures.shed_by == 1
    opened = next(b for b in figures.breakers if b.state == "open")
    assert opened.trial_after == NOW + timedelta(seconds=30)
    assert all(b.trial_after is None for b in figures.breakers if b.state == "closed")


def test_a_page_summary_is_exact() -> None:
    calls = [
        HookCall(f"c{i}", NOW, "rcpt_to", "p", "enforce", "answered", "continue", float(i))
        for i in range(1, 101)
    ]
    summary = summarise_calls(calls)
    assert (summary.calls, summary.latency_p50_ms, summary.latency_p99_ms) == (100, 51.0, 100.0)
    assert summary.by_outcome == {"answered": 100} and summary.by_verdict == {"continue": 100}
    assert summarise_calls([]).latency_p50_ms is None
