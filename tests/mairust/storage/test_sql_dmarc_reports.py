"""Contract tests of the DMARC report store (every backend in conftest.METADATA_URLS): a
received report kept once per (domain, org, report id), read back whole, listed per domain
newest first in pages; a period's received messages' auth results for the reports we send,
with those DMARC refusals' Rejection events kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mairust.auth.results import AuthResults, DmarcResult, DmarcWord, SpfResult, SpfWord
from mairust.events import Event, RecordType
from mairust.model.annotations import Annotations
from mairust.model.dmarc_reports import (
    AggregateReport,
    AuthDomainResult,
    PolicyPublished,
    ReportMetadata,
    ReportRow,
    StoredReport,
)
from mairust.model.ids import new_id
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.mairust.storage.conftest import RecordMaker

T0 = datetime(2026, 11, 29, tzinfo=UTC)


def aggregate(report_id: str, org: str = "rx.test") -> AggregateReport:
    return AggregateReport(
        metadata=ReportMetadata(org, f"dmarc@{org}", report_id, T0, T0 + timedelta(days=1)),
        policy=PolicyPublished("a.test", p="reject", sp="none"),
        rows=(
            ReportRow(
                "192.0.2.1",
                7,
                "none",
                "pass",
                "fail",
                "a.test",
                dkim_results=(AuthDomainResult("a.test", "pass", selector="s1"),),
                spf_results=(AuthDomainResult("bounce.test", "softfail", scope="mfrom"),),
            ),
            ReportRow("2001:db8::2", 2, "reject", "fail", "fail", "a.test", reasons=("other",)),
        ),
    )


@pytest.fixture
def tenant(metadata_store: SqlMetadataStore) -> str:
    tenant_id = metadata_store.create_tenant("a").id
    metadata_store.add_domain("a.test", tenant_id)
    metadata_store.add_domain("b.test", tenant_id)
    return tenant_id


def stored(tenant: str, report: AggregateReport, domain: str = "a.test") -> StoredReport:
    return StoredReport(new_id(), tenant, domain, report, T0 + timedelta(days=1), "msg-1")


def test_a_report_is_kept_once_per_domain_org_and_id_and_read_back_whole(
    metadata_store: SqlMetadataStore, tenant: str
) -> None:
    first = stored(tenant, aggregate("r-1"))
    assert metadata_store.add_dmarc_report(first) is True
    assert metadata_store.add_dmarc_report(replace(first, id=new_id())) is False  # mailed twice
    # The same id from another org, or about another domain, is another report.
    assert metadata_store.add_dmarc_report(stored(tenant, aggregate("r-1", "other.test")))
    assert metadata_store.add_dmarc_report(stored(tenant, aggregate("r-1"), "b.test"))

    listed = metadata_store.list_dmarc_reports("a.test")
    assert len(listed) == 2
    [back] = [r for r in listed if r.id == first.id]
    assert back == first
    assert (back.report.messages, back.report.passed, back.report.failed) == (9, 7, 2)


def test_listing_is_per_domain_newest_first_in_pages(
    metadata_store: SqlMetadataStore, tenant: str
) -> None:
    made = []
    for n in range(5):
        report = stored(tenant, aggregate(f"r-{n}"))
        metadata_store.add_dmarc_report(report)
        made.append(report.id)
    metadata_store.add_dmarc_report(stored(tenant, aggregate("elsewhere"), "b.test"))
    first = metadata_store.list_dmarc_reports("a.test", limit=2)
    rest = metadata_store.list_dmarc_reports("a.test", limit=10, after=first[-1].id)
    assert [r.id for r in first + rest] == sorted(made, reverse=True)
    assert metadata_store.list_dmarc_reports("c.test") == []


def test_inbound_auth_results_are_a_periods_received_mail_with_results_by_id(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    results = AuthResults(
        spf=SpfResult(SpfWord.PASS, "mailfrom", "far.test", "192.0.2.7"),
        dmarc=DmarcResult(DmarcWord.PASS, "far.test", "none", spf_aligned=True),
    ).to_json()
    inside = [
        replace(make_record("u@a.test", received_at=T0 + timedelta(hours=h)), auth_results=results)
        for h in (1, 2, 3)
    ]
    inside[1] = replace(inside[1], annotations=Annotations(folder="Quarantine"))
    submitted = make_record("u@a.test", received_at=T0 + timedelta(hours=1))
    submitted = replace(
        submitted,
        auth_results=results,
        envelope=replace(submitted.envelope, authenticated_as="u@a.test"),
    )
    unchecked = make_record("u@a.test", received_at=T0 + timedelta(hours=1))
    before = replace(
        make_record("u@a.test", received_at=T0 - timedelta(seconds=1)), auth_results=results
    )
    at_end = replace(
        make_record("u@a.test", received_at=T0 + timedelta(days=1)), auth_results=results
    )
    metadata_store.commit_messages([*inside, submitted, unchecked, before, at_end])

    end = T0 + timedelta(days=1)
    page = metadata_store.inbound_auth_results(T0, end, limit=2)
    rest = metadata_store.inbound_auth_results(T0, end, limit=10, after=page[-1].message_id)
    found = page + rest
    assert [f.message_id for f in found] == sorted(r.ref.id for r in inside)
    by_id = {f.message_id: f for f in found}
    assert by_id[inside[1].ref.id].folder == "Quarantine"
    assert by_id[inside[0].ref.id].folder == ""
    assert AuthResults.from_json(by_id[inside[0].ref.id].auth_results).dmarc is not None
    assert by_id[inside[0].ref.id].client_ip == "127.0.0.1"


def test_a_dmarc_refusal_s_kept_results_count_once_among_the_period_s_by_id(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    """A transaction refused for DMARC at DATA: its Rejection events (one per recipient
    tenant) kept the results; it counts once, refused, merged by id with stored mail."""
    failed = AuthResults(
        dmarc=DmarcResult(DmarcWord.FAIL, "spoof.test", "reject", spf_aligned=False)
    ).to_json()
    stored = [
        replace(make_record("u@a.test", received_at=T0 + timedelta(hours=h)), auth_results=failed)
        for h in (1, 2)
    ]
    metadata_store.commit_messages(stored)
    refused_id, other_id, outside_id = new_id(), new_id(), new_id()

    def rejection(tenant_id: str, transaction: str, at: datetime, kept: bool) -> Event:
        detail: dict[str, object] = {"stage": "DATA", "client": "192.0.2.9"}
        if kept:
            detail["auth_results"] = failed
        return Event(
            new_id(), tenant_id, RecordType.REJECTION, at, message_id=transaction, detail=detail
        )

    at = T0 + timedelta(hours=3)
    metadata_store.append_events(
        [
            rejection("tenant-a", refused_id, at, kept=True),
            rejection("tenant-b", refused_id, at, kept=True),  # the same transaction
            rejection("tenant-a", other_id, at, kept=False),  # refused for something else
            rejection("tenant-a", outside_id, T0 + timedelta(days=1), kept=True),  # next period
        ]
    )

    end = T0 + timedelta(days=1)
    page = metadata_store.inbound_auth_results(T0, end, limit=2)
    rest = metadata_store.inbound_auth_results(T0, end, limit=2, after=page[-1].message_id)
    found = page + rest
    assert len(page) == 2
    assert [f.message_id for f in found] == sorted([*(r.ref.id for r in stored), refused_id])
    [refused] = [f for f in found if f.refused]
    assert (refused.message_id, refused.client_ip, refused.received_at) == (
        refused_id,
        "192.0.2.9",
        at,
    )
    assert AuthResults.from_json(refused.auth_results).dmarc is not None


def test_a_period_is_claimed_once(metadata_store: SqlMetadataStore) -> None:
    assert metadata_store.claim_dmarc_period(T0, T0) is True
    assert metadata_store.claim_dmarc_period(T0, T0 + timedelta(hours=1)) is False
    assert metadata_store.claim_dmarc_period(T0 + timedelta(days=1), T0) is True
