"""Contract tests of the TLS-RPT counts (every backend in conftest.METADATA_URLS): flushes
of several loops add up per day and key, days are apart, a day's report of a domain is
claimed once, old days forgotten."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from mairust.model.tls_reports import SentTlsReport, TlsResultCount, TlsResultKey
from mairust.storage.sql_metadata import SqlMetadataStore

DAY = date(2026, 11, 29)
POLICY = ("version: STSv1", "mode: enforce", "mx: *.far.test", "max_age: 86400")
OK = TlsResultKey(DAY, "far.test", "sts", POLICY, ("*.far.test",))
BAD_CERT = TlsResultKey(
    DAY,
    "far.test",
    "sts",
    POLICY,
    ("*.far.test",),
    "certificate-expired",
    "192.0.2.9",
    "mx1.far.test",
    "192.0.2.25",
)
FETCH = TlsResultKey(DAY, "other.test", "sts", result_type="sts-policy-fetch-error")


def test_counts_add_up_per_day_and_key(metadata_store: SqlMetadataStore) -> None:
    metadata_store.add_tls_results([TlsResultCount(OK, 3), TlsResultCount(BAD_CERT, 1)])
    # A second delivery loop (or the same after a restart) flushes its own batch.
    metadata_store.add_tls_results(
        [TlsResultCount(OK, 2), TlsResultCount(BAD_CERT, 4), TlsResultCount(FETCH, 1)]
    )
    next_day = TlsResultKey(DAY + timedelta(days=1), "far.test", "sts", POLICY, ("*.far.test",))
    metadata_store.add_tls_results([TlsResultCount(next_day, 7)])
    metadata_store.add_tls_results([])
    found = {c.key: c.count for c in metadata_store.tls_results(DAY)}
    assert found == {OK: 5, BAD_CERT: 5, FETCH: 1}
    assert metadata_store.tls_results(DAY + timedelta(days=1)) == [TlsResultCount(next_day, 7)]
    assert metadata_store.tls_results(DAY - timedelta(days=1)) == []


def test_a_days_report_of_a_domain_is_claimed_once(metadata_store: SqlMetadataStore) -> None:
    at = datetime(2026, 11, 30, 1, tzinfo=UTC)
    report = SentTlsReport(DAY, "far.test", "r1", ("mailto:tls@far.test", "https://x.test/r"), at)
    assert metadata_store.claim_tls_report(report)
    assert not metadata_store.claim_tls_report(SentTlsReport(DAY, "far.test", "r2", (), at))
    assert metadata_store.claim_tls_report(SentTlsReport(DAY, "other.test", "r3", (), at))
    assert metadata_store.sent_tls_reports(DAY) == [
        report,
        SentTlsReport(DAY, "other.test", "r3", (), at),
    ]


def test_old_days_are_forgotten(metadata_store: SqlMetadataStore) -> None:
    at = datetime(2026, 11, 30, 1, tzinfo=UTC)
    later = TlsResultKey(DAY + timedelta(days=1), "far.test", "sts")
    metadata_store.add_tls_results([TlsResultCount(OK, 1), TlsResultCount(FETCH, 1)])
    metadata_store.add_tls_results([TlsResultCount(later, 1)])
    metadata_store.claim_tls_report(SentTlsReport(DAY, "far.test", "r1", (), at))
    assert metadata_store.delete_tls_results_before(DAY + timedelta(days=1)) == 2
    assert metadata_store.tls_results(DAY) == [] and metadata_store.sent_tls_reports(DAY) == []
    assert metadata_store.tls_results(DAY + timedelta(days=1)) == [TlsResultCount(later, 1)]
