"""Contract tests of a plugin's running totals and breaker reports (every backend in
conftest.METADATA_URLS): totals grow with the log in one transaction, the histogram puts
each call in its bucket, reports are kept per process, and an uninstall clears them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mairust.model.ids import new_id
from mairust.model.plugins import (
    LATENCY_BUCKETS_MS,
    BreakerReport,
    HookCall,
    HookCallCount,
    HookLatencyCount,
    InstalledPlugin,
)
from mairust.storage.sql_hook_figures import latency_bucket
from mairust.storage.sql_metadata import SqlMetadataStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def call(n: int, plugin: str, verdict: str, latency_ms: float, mode: str = "enforce") -> HookCall:
    return HookCall(f"c{n:04}", NOW, "pre_receive", plugin, mode, "answered", verdict, latency_ms)


def test_latency_buckets_hold_their_upper_bound() -> None:
    assert latency_bucket(0.2) == 0 and latency_bucket(1.0) == 0
    assert latency_bucket(1.01) == 1
    assert LATENCY_BUCKETS_MS[latency_bucket(7000.0)] == float("inf")


def test_totals_grow_with_each_batch_of_calls(metadata_store: SqlMetadataStore) -> None:
    metadata_store.record_hook_calls(
        [
            call(1, "rules", "reject", 0.5),
            call(2, "rules", "reject", 3.0),
            call(3, "rules", "continue", 30.0),
            call(4, "other", "continue", 1.0, "shadow"),
        ]
    )
    metadata_store.record_hook_calls([call(5, "rules", "reject", 4.0)])
    assert metadata_store.hook_call_counts("rules") == [
        HookCallCount("rules", "pre_receive", "enforce", "answered", "continue", 1, 30.0),
        HookCallCount("rules", "pre_receive", "enforce", "answered", "reject", 3, 7.5),
    ]
    assert metadata_store.hook_latency_counts("rules") == [
        HookLatencyCount("rules", "pre_receive", "enforce", 1.0, 1),
        HookLatencyCount("rules", "pre_receive", "enforce", 5.0, 2),
        HookLatencyCount("rules", "pre_receive", "enforce", 50.0, 1),
    ]
    assert {c.plugin for c in metadata_store.hook_call_counts()} == {"rules", "other"}
    assert metadata_store.hook_call_counts("other")[0].mode == "shadow"
    metadata_store.record_hook_calls([])  # nothing to add: no statement, no change
    assert sum(c.calls for c in metadata_store.hook_call_counts()) == 5


def test_breaker_reports_per_process_overwritten_and_forgotten(
    metadata_store: SqlMetadataStore,
) -> None:
    opened = BreakerReport("rules", "smtp@h:1", "open", NOW, 30.0, 1)
    metadata_store.report_breaker(opened)
    metadata_store.report_breaker(BreakerReport("rules", "api@h:2", "closed", NOW, 30.0, 2))
    metadata_store.report_breaker(BreakerReport("other", "smtp@h:1", "open", NOW, 5.0, 1))
    assert metadata_store.breaker_reports("rules") == [
        BreakerReport("rules", "api@h:2", "closed", NOW, 30.0, 2),
        opened,
    ]
    closed = BreakerReport("rules", "smtp@h:1", "closed", NOW, 30.0, 1)
    metadata_store.report_breaker(closed)  # the same process again: in place
    assert closed in metadata_store.breaker_reports("rules")
    assert len(metadata_store.breaker_reports()) == 3
    metadata_store.forget_breakers("smtp@h:1")
    assert [(r.plugin, r.holder) for r in metadata_store.breaker_reports()] == [
        ("rules", "api@h:2")
    ]


def test_an_uninstall_clears_the_figures_and_keeps_the_log(
    metadata_store: SqlMetadataStore,
) -> None:
    manifest = {"plugin": {"name": "rules", "version": "1.0.0"}}
    metadata_store.add_plugin(InstalledPlugin("rules", "1.0.0", manifest, True, {}, NOW, NOW))
    metadata_store.record_hook_calls([call(1, "rules", "reject", 2.0)])
    metadata_store.report_breaker(BreakerReport("rules", "smtp@h:1", "open", NOW, 30.0, 1))
    metadata_store.remove_plugin("rules")
    assert metadata_store.hook_call_counts("rules") == []
    assert metadata_store.hook_latency_counts("rules") == []
    assert metadata_store.breaker_reports("rules") == []
    assert len(metadata_store.list_hook_calls("rules")) == 1


def test_old_calls_are_forgotten_oldest_first_in_bounded_batches(
    metadata_store: SqlMetadataStore,
) -> None:
    day_ms = 86_400_000
    now_ms = int(NOW.timestamp() * 1000)

    def dated(days_ago: int, n: int) -> HookCall:
        made = new_id(now_ms - days_ago * day_ms + n)
        return HookCall(made, NOW, "rcpt_to", "rules", "enforce", "answered", "reject", 1.0)

    metadata_store.record_hook_calls([dated(40, n) for n in range(5)] + [dated(1, 0)])
    cutoff = NOW - timedelta(days=30)
    assert metadata_store.forget_hook_calls(cutoff, limit=3) == 3
    assert metadata_store.forget_hook_calls(cutoff, limit=3) == 2
    assert metadata_store.forget_hook_calls(cutoff, limit=3) == 0
    assert len(metadata_store.list_hook_calls("rules")) == 1
    # The running totals keep what the log forgot.
    assert sum(c.calls for c in metadata_store.hook_call_counts("rules")) == 6
