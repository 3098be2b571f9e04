"""Contract tests of the loop heartbeats (every backend in conftest.METADATA_URLS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mairust.storage.sql_metadata import SqlMetadataStore


def test_no_heartbeat_is_none(metadata_store: SqlMetadataStore) -> None:
    assert metadata_store.last_heartbeat("dispatcher lease loop") is None


def test_a_heartbeat_is_overwritten_in_place(metadata_store: SqlMetadataStore) -> None:
    first = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    metadata_store.record_heartbeat("lease", "node-a", first)
    assert metadata_store.last_heartbeat("lease") == first
    # An earlier beat written later (a clock step back) is what the instance said last.
    metadata_store.record_heartbeat("lease", "node-a", first - timedelta(seconds=5))
    assert metadata_store.last_heartbeat("lease") == first - timedelta(seconds=5)


def test_the_newest_instance_counts_and_other_loops_do_not(
    metadata_store: SqlMetadataStore,
) -> None:
    now = datetime.now(UTC)
    metadata_store.record_heartbeat("lease", "node-a", now - timedelta(seconds=40))
    metadata_store.record_heartbeat("lease", "node-b", now - timedelta(seconds=3))
    metadata_store.record_heartbeat("index", "node-a", now)
    beat = metadata_store.last_heartbeat("lease")
    assert beat == now - timedelta(seconds=3)
    assert beat is not None and beat.utcoffset() == timedelta(0)


def test_an_aware_time_in_another_zone_is_kept_as_the_same_instant(
    metadata_store: SqlMetadataStore,
) -> None:
    local = datetime(2026, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    metadata_store.record_heartbeat("lease", "node-a", local)
    assert metadata_store.last_heartbeat("lease") == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
