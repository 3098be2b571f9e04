"""Contract tests of the suppression lists (every backend in conftest.METADATA_URLS): one
entry per (tenant, address) whatever the case, the first entry kept, paging by address,
lookups by the caller's spelling."""

from __future__ import annotations

from datetime import UTC, datetime

from mairust.model.suppression import Suppression, SuppressionReason
from mairust.storage.sql_metadata import SqlMetadataStore

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BOUNCE = SuppressionReason.HARD_BOUNCE
MANUAL = SuppressionReason.MANUAL


def entry(tenant: str, address: str, reason: SuppressionReason = MANUAL) -> Suppression:
    return Suppression(tenant, address, reason, T0, f"{reason.value} detail")


def test_entries_are_kept_per_tenant_once_and_looked_up_in_any_case(
    metadata_store: SqlMetadataStore,
) -> None:
    added = metadata_store.add_suppressions(
        [entry("a", "Joe@Far.test", BOUNCE), entry("a", "joe@far.test"), entry("b", "joe@far.test")]
    )
    assert added == 2
    assert metadata_store.add_suppressions([entry("a", "JOE@far.test")]) == 0

    [kept] = metadata_store.list_suppressions("a")
    assert (kept.address, kept.reason, kept.detail) == (
        "joe@far.test",
        BOUNCE,
        "hard_bounce detail",
    )
    found = metadata_store.suppressed("a", ["JOE@FAR.TEST", "kim@far.test"])
    assert list(found) == ["JOE@FAR.TEST"]
    assert metadata_store.suppressed("c", ["joe@far.test"]) == {}
    assert metadata_store.suppressed("a", []) == {}


def test_listing_pages_by_address_and_removal_is_per_tenant(
    metadata_store: SqlMetadataStore,
) -> None:
    metadata_store.add_suppressions([entry("a", f"u{n}@far.test") for n in range(5)])
    metadata_store.add_suppressions([entry("b", "u0@far.test")])

    first = metadata_store.list_suppressions("a", limit=2)
    assert [e.address for e in first] == ["u0@far.test", "u1@far.test"]
    rest = metadata_store.list_suppressions("a", limit=10, after=first[-1].address)
    assert [e.address for e in rest] == ["u2@far.test", "u3@far.test", "u4@far.test"]
    assert len(metadata_store.list_suppressions(None, limit=100)) == 6

    assert metadata_store.remove_suppression("a", "U0@far.test") is True
    assert metadata_store.remove_suppression("a", "u0@far.test") is False
    assert [
        e.tenant_id for e in metadata_store.list_suppressions(None) if e.address == "u0@far.test"
    ] == ["b"]


def test_a_large_lookup_is_answered_whole(metadata_store: SqlMetadataStore) -> None:
    addresses = [f"r{n}@far.test" for n in range(1200)]
    metadata_store.add_suppressions([entry("a", a) for a in addresses[::3]])
    assert len(metadata_store.suppressed("a", addresses)) == 400
