"""Contract tests of the kept MTA-STS policies (every backend in conftest.METADATA_URLS):
one row per domain whatever its case, a newer one replaces it, expired ones forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mairust.model.mta_sts import StsPolicyRecord
from mairust.storage.sql_metadata import SqlMetadataStore

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TEXT = "version: STSv1\nmode: enforce\nmx: *.far.test\nmax_age: 86400\n"


def record(domain: str, policy_id: str, days: float = 1) -> StsPolicyRecord:
    return StsPolicyRecord(domain, policy_id, TEXT, T0, T0 + timedelta(days=days))


def test_a_policy_is_kept_per_domain_and_a_newer_one_replaces_it(
    metadata_store: SqlMetadataStore,
) -> None:
    assert metadata_store.get_sts_policy("far.test") is None
    metadata_store.put_sts_policy(record("Far.test", "one"))
    assert metadata_store.get_sts_policy("far.test") == record("far.test", "one")
    metadata_store.put_sts_policy(record("far.test", "two", days=2))
    kept = metadata_store.get_sts_policy("FAR.test")
    assert kept is not None and (kept.policy_id, kept.expires_at) == ("two", T0 + timedelta(2))
    assert kept.fetched_at == T0 and kept.text == TEXT


def test_expired_policies_are_forgotten(metadata_store: SqlMetadataStore) -> None:
    metadata_store.put_sts_policy(record("old.test", "a", days=1))
    metadata_store.put_sts_policy(record("new.test", "b", days=3))
    assert metadata_store.delete_expired_sts_policies(T0 + timedelta(days=2)) == 1
    assert metadata_store.get_sts_policy("old.test") is None
    assert metadata_store.get_sts_policy("new.test") is not None
