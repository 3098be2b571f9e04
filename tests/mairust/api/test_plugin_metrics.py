"""The plugins' Prometheus metrics at ``/metrics``, read from the store's running totals:
calls by outcome and verdict, a histogram with every bucket, circuits open per plugin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mairust.errors import StorageUnavailable
from mairust.model.plugins import LATENCY_BUCKETS_MS, BreakerReport, HookCall
from tests.mairust.api.test_metrics import samples

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def call(n: int, outcome: str, verdict: str, latency_ms: float) -> HookCall:
    return HookCall(f"m{n:04}", NOW, "rcpt_to", "rules", "enforce", outcome, verdict, latency_ms)


async def test_calls_latency_and_open_circuits_are_exported(anonymous, stores):
    stores.metadata.record_hook_calls(
        [
            call(1, "answered", "reject", 2.0),
            call(2, "answered", "reject", 4.0),
            call(3, "timeout", "tempfail", 3000.0),
        ]
    )
    stores.metadata.report_breaker(BreakerReport("rules", "smtp@h:1", "open", NOW, 30.0, 1))
    stores.metadata.report_breaker(BreakerReport("rules", "api@h:2", "closed", NOW, 30.0, 1))
    text = (await anonymous.get("/metrics")).text
    labels = (("mode", "enforce"), ("plugin", "rules"), ("point", "rcpt_to"))
    calls = samples(text, "mairust_plugin_calls_total")
    assert calls == {
        (*labels[:1], ("outcome", "answered"), *labels[1:], ("verdict", "reject")): 2.0,
        (*labels[:1], ("outcome", "timeout"), *labels[1:], ("verdict", "tempfail")): 1.0,
    }
    buckets = samples(text, "mairust_plugin_call_duration_seconds_bucket")
    by_bound = {dict(key)["le"]: value for key, value in buckets.items()}
    assert len(by_bound) == len(LATENCY_BUCKETS_MS)  # every bound, the empty ones too
    assert (by_bound["0.001"], by_bound["0.0025"], by_bound["0.005"]) == (0.0, 1.0, 2.0)
    assert (by_bound["2.5"], by_bound["5.0"], by_bound["+Inf"]) == (2.0, 3.0, 3.0)
    assert samples(text, "mairust_plugin_call_duration_seconds_count") == {labels: 3.0}
    [latency_sum] = samples(text, "mairust_plugin_call_duration_seconds_sum").values()
    assert latency_sum == pytest.approx(3.006)
    assert samples(text, "mairust_plugin_circuit_open") == {(("plugin", "rules"),): 1.0}


@pytest.mark.in_process_only("breaks a store method in this process")
async def test_a_store_outage_leaves_the_plugin_metrics_out(anonymous, stores, monkeypatch):
    def down(plugin: str | None = None) -> None:
        raise StorageUnavailable("database is away")

    monkeypatch.setattr(stores.metadata, "hook_call_counts", down)
    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert samples(response.text, "mairust_plugin_calls_total") == {}
