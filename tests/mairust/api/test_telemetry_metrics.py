"""Every process's counters in one scrape, each series labelled with its process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from mairust.api.telemetry_metrics import ProcessTelemetryCollector
from mairust.telemetry import PlatformMetrics, TelemetrySnapshot
from tests.mairust.test_telemetry import values


def test_processes_keep_their_own_series_under_a_process_label():
    front, worker = PlatformMetrics(), PlatformMetrics()
    front.spool_committed(messages=3, local_rows=3, seconds=0.01)
    worker.rows_settled(delivered=2, deferred=0, failed=0)
    worker2 = PlatformMetrics()
    worker2.rows_settled(delivered=5, deferred=0, failed=0)
    registry = CollectorRegistry()
    registry.register(
        ProcessTelemetryCollector(
            lambda: [front.snapshot("fe"), worker.snapshot("w0"), worker2.snapshot("w1")]
        )
    )
    text = generate_latest(registry).decode()
    assert values(text, "mairust_spool_messages_total") == {
        (("process", "fe"), ("result", "committed")): 3.0
    }
    assert values(text, "mairust_pipeline_rows_total") == {
        (("outcome", "delivered"), ("process", "w0")): 2.0,
        (("outcome", "delivered"), ("process", "w1")): 5.0,
    }
    assert "_created" not in text
    assert "# TYPE mairust_pipeline_rows_total counter" in text


def test_a_failing_source_leaves_the_rest_of_the_scrape():
    def broken() -> list[TelemetrySnapshot]:
        raise RuntimeError("the cluster is away")

    registry = CollectorRegistry()
    registry.register(ProcessTelemetryCollector(broken))
    assert generate_latest(registry) == b""
