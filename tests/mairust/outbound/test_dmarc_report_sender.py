"""Sending DMARC aggregate reports: auth results in a real store, DMARC records served by a
real DNS server on loopback, the reports committed through a real spool. One report per
policy domain with a ``rua``, DKIM-signed, queued as outbound mail to it (or locally, for
one of our own domains); its gzip'd XML reads back through our strict parser with the
right counts; an external ``rua`` only when the destination authorises it (RFC 7489
§7.1); a ``!size`` too small, a record without ``rua``, or no record at all: no report."""

from __future__ import annotations

import email
import email.policy
import gzip
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest

from mairust.auth.dmarc_aggregate import parse_aggregate_report
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import (
    AuthResults,
    DkimResult,
    DkimWord,
    DmarcResult,
    DmarcWord,
    SpfResult,
    SpfWord,
)
from mairust.config import DmarcReportSettings, Settings
from mairust.model.annotations import Annotations
from mairust.model.dkim_keys import DkimAlgorithm
from mairust.model.dmarc_reports import AggregateReport
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.queue import QueueState
from mairust.outbound.dkim_signer import (
    DkimSigner,
    SigningKey,
    dns_record_text,
    private_key_pem,
    public_key_text,
)
from mairust.outbound.dmarc_report_sender import build_aggregate_reports, send_aggregate_reports
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.dns_server import ZoneServer
from tests.support.sqlite_template import migrate_for_test

END = datetime(2026, 11, 30, tzinfo=UTC)
IN_PERIOD = END - timedelta(hours=3)
REPORTS = DmarcReportSettings(
    enabled=True, org_name="mx.ours.test", sender="dmarc-reports@ours.test", contact="ops"
)
ZONE = {
    "_dmarc.far.test": {"TXT": ["v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@far.test"]},
    "_dmarc.norua.test": {"TXT": ["v=DMARC1; p=none"]},
    "_dmarc.ext.test": {"TXT": ["v=DMARC1; p=quarantine; rua=mailto:agg@collector.example"]},
    "ext.test._report._dmarc.collector.example": {"TXT": ["v=DMARC1"]},
    "_dmarc.unasked.test": {"TXT": ["v=DMARC1; p=none; rua=mailto:agg@collector.example"]},
    "_dmarc.small.test": {"TXT": ["v=DMARC1; p=none; rua=mailto:d@small.test!10"]},
    "_dmarc.ours.test": {"TXT": ["v=DMARC1; p=none; rua=mailto:dmarc@ours.test"]},
}


KEY = SigningKey("ours.test", "s1", DkimAlgorithm.ED25519, private_key_pem(DkimAlgorithm.ED25519))
SIGNER = DkimSigner((KEY,))


def signer_for(domain: str) -> DkimSigner | None:
    return SIGNER if domain == "ours.test" else None


def dkim_dns(name: bytes, timeout: int = 5) -> bytes:
    record = dns_record_text(KEY.algorithm, public_key_text(KEY.algorithm, KEY.private_pem))
    return record.encode() if name.decode().rstrip(".") == "s1._domainkey.ours.test" else b""


@pytest.fixture(scope="module")
def zone() -> Iterator[ZoneServer]:
    with ZoneServer(ZONE) as server:
        yield server


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    settings = Settings(data_dir=tmp_path)
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    tenant = opened.metadata.create_tenant("ours")
    opened.metadata.add_domain("ours.test", tenant.id)
    opened.metadata.add_mailbox("dmarc@ours.test")
    yield opened
    opened.close()


def checked(
    from_domain: str,
    ip: str = "192.0.2.1",
    *,
    dmarc: DmarcWord = DmarcWord.PASS,
    spf_aligned: bool = True,
    dkim_aligned: bool = False,
) -> AuthResults:
    return AuthResults(
        spf=SpfResult(SpfWord.PASS if spf_aligned else SpfWord.FAIL, "mailfrom", from_domain, ip),
        dkim=(DkimResult(DkimWord.PASS if dkim_aligned else DkimWord.FAIL, from_domain, "s1"),),
        dmarc=DmarcResult(dmarc, from_domain, "reject", spf_aligned, dkim_aligned),
    )


def received(
    stores: Stores,
    results: AuthResults,
    *,
    at: datetime = IN_PERIOD,
    ip: str = "192.0.2.1",
    folder: str | None = None,
    submitted: bool = False,
) -> None:
    ref = MessageRef(new_id(), 10, "0" * 64, "0" * 64)
    envelope = Envelope(
        mail_from="x@far.test",
        rcpt_tos=("someone@ours.test",),
        received_at=at,
        client_ip=ip,
        authenticated_as="dmarc@ours.test" if submitted else None,
    )
    record = SpoolRecord(ref, envelope, results.to_json(), Annotations(folder=folder))
    stores.metadata.commit_messages([record])


def attached_report(raw: bytes) -> tuple[str, AggregateReport]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    [part] = [p for p in message.walk() if p.get_content_type() == "application/gzip"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert gzip.decompress(payload).startswith(b"<?xml")
    return str(part.get_filename()), parse_aggregate_report(payload)


def seed(stores: Stores) -> None:
    for _ in range(3):
        received(stores, checked("far.test"))
    received(stores, checked("far.test"), ip="2001:db8::5")
    failing = checked("far.test", "198.51.100.7", dmarc=DmarcWord.FAIL, spf_aligned=False)
    received(stores, failing, ip="198.51.100.7", folder="Quarantine")
    # No record of its own: far.test's (organizational domain) applies, and reports it.
    received(stores, checked("news.far.test", dkim_aligned=True, spf_aligned=False))
    received(stores, checked("ext.test"))
    received(stores, checked("unasked.test"))
    received(stores, checked("small.test"))
    received(stores, checked("norua.test"))
    received(stores, checked("nodmarc.test"))
    received(stores, checked("ours.test"))
    # Not counted: no DMARC evaluation, a temperror, our own users' mail, another period.
    received(stores, replace(checked("far.test"), dmarc=None))
    received(stores, checked("far.test", dmarc=DmarcWord.TEMPERROR))
    received(stores, checked("far.test"), submitted=True)
    received(stores, checked("far.test"), at=END)
    received(stores, checked("far.test"), at=END - timedelta(days=1, seconds=1))


async def test_one_report_per_domain_with_a_rua_queued_to_it_with_the_right_counts(
    stores: Stores, zone: ZoneServer
) -> None:
    seed(stores)
    resolver = CachingResolver(["127.0.0.1"], port=zone.port, timeout=1.0)
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    try:
        summary = await send_aggregate_reports(
            END,
            store=stores.metadata,
            spool=spool,
            resolver=resolver,
            settings=REPORTS,
            signer_for=signer_for,
        )
    finally:
        await spool.stop()

    assert summary.sent == ("ext.test", "far.test", "ours.test")
    assert sorted(summary.skipped) == ["nodmarc.test", "norua.test", "small.test", "unasked.test"]
    assert summary.period_begin == END - timedelta(days=1)
    outbound = {row.recipient: row for row in stores.metadata.list_outbound()}
    assert sorted(outbound) == ["agg@collector.example", "dmarc@far.test"]
    far = outbound["dmarc@far.test"]
    assert far.mail_from == "dmarc-reports@ours.test"
    raw = stores.blobs.get(far.message.blob_key)
    assert raw.startswith(b"DKIM-Signature:") and b"d=ours.test" in raw
    assert dkim.DKIM(raw).verify(dnsfunc=dkim_dns)
    name, report = attached_report(raw)
    begin, end = int((END - timedelta(days=1)).timestamp()), int(END.timestamp())
    assert name == f"mx.ours.test!far.test!{begin}!{end}.xml.gz"
    assert report.metadata.org_name == "mx.ours.test"
    assert report.metadata.report_id == f"far.test.{begin}.{end}"
    assert (report.metadata.begin, report.metadata.end) == (END - timedelta(days=1), END)
    assert (report.policy.domain, report.policy.p, report.policy.adkim) == (
        "far.test",
        "reject",
        "s",
    )
    assert (report.messages, report.passed, report.failed) == (6, 5, 1)
    by_ip = {(r.source_ip, r.header_from): r for r in report.rows}
    assert by_ip[("192.0.2.1", "far.test")].count == 3
    assert by_ip[("2001:db8::5", "far.test")].count == 1
    failed = by_ip[("198.51.100.7", "far.test")]
    assert (failed.disposition, failed.dkim, failed.spf) == ("quarantine", "fail", "fail")
    assert [(r.domain, r.result, r.scope) for r in failed.spf_results] == [
        ("far.test", "fail", "mfrom")
    ]
    sub = by_ip[("192.0.2.1", "news.far.test")]
    assert (sub.dkim, sub.spf, sub.dkim_results[0].selector) == ("pass", "fail", "s1")

    # The report to one of our own domains is delivered locally, like any mail to it.
    queued = stores.metadata.list_queue(QueueState.QUEUED, 100)
    [local] = [q for q in queued if q.recipient == "dmarc@ours.test"]
    _, own = attached_report(stores.blobs.get(local.message.blob_key))
    assert (own.policy.domain, own.messages) == ("ours.test", 1)


def test_a_period_without_mail_builds_no_report(stores: Stores, zone: ZoneServer) -> None:
    resolver = CachingResolver(["127.0.0.1"], port=zone.port, timeout=1.0)
    assert build_aggregate_reports(stores.metadata, resolver, REPORTS, END) == ([], [])


def test_a_dns_failure_skips_the_domain_this_period(stores: Stores) -> None:
    received(stores, checked("far.test"))
    with ZoneServer(ZONE, servfail_names=["_dmarc.far.test"]) as failing:
        resolver = CachingResolver(["127.0.0.1"], port=failing.port, timeout=1.0)
        assert build_aggregate_reports(stores.metadata, resolver, REPORTS, END) == (
            [],
            ["far.test"],
        )


def test_only_plain_mailto_addresses_of_a_rua_list_are_used(stores: Stores) -> None:
    received(stores, checked("weird.test"))
    long_label = "x" * 70
    record = (
        "v=DMARC1; p=none; rua=mailto:\u00fc@weird.test,https://collector.example/r,"
        f"mailto:a@{long_label}.example,mailto:ok@weird.test!50m,mailto:ok@weird.test"
    )
    with ZoneServer({"_dmarc.weird.test": {"TXT": [record]}}) as dns:
        resolver = CachingResolver(["127.0.0.1"], port=dns.port, timeout=1.0)
        [outgoing], skipped = build_aggregate_reports(stores.metadata, resolver, REPORTS, END)
    assert skipped == []
    assert (outgoing.domain, outgoing.recipients) == ("weird.test", ("ok@weird.test",))
    assert b"To: ok@weird.test\r\n" in outgoing.content
