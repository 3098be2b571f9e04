"""The aggregate reports we send as data and XML: rows grouped by what a receiver reports
(source, evaluated results, identifiers, auth results), only DMARC-evaluated mail counted,
and the XML read back by our own strict parser to the same report."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mairust.auth.dmarc_aggregate import parse_aggregate_report
from mairust.auth.results import (
    AuthResults,
    DkimResult,
    DkimWord,
    DmarcResult,
    DmarcWord,
    SpfResult,
    SpfWord,
)
from mairust.model.dmarc_reports import (
    AggregateReport,
    AuthDomainResult,
    InboundAuth,
    PolicyPublished,
    ReportMetadata,
)
from mairust.outbound.dmarc_report_xml import report_rows, report_xml

T0 = datetime(2026, 11, 29, tzinfo=UTC)


def inbound(ip: str, results: AuthResults, folder: str = "") -> InboundAuth:
    return InboundAuth("m", T0, ip, results.to_json(), folder)


def results(domain: str, word: DmarcWord, *, spf: bool, dkim: bool) -> AuthResults:
    return AuthResults(
        spf=SpfResult(SpfWord.PASS if spf else SpfWord.SOFTFAIL, "mailfrom", f"b.{domain}", "x"),
        helo=SpfResult(SpfWord.NONE, "helo", "mx.elsewhere", "x"),
        dkim=(
            DkimResult(DkimWord.PASS if dkim else DkimWord.FAIL, domain, "s1"),
            DkimResult(DkimWord.PASS, "esp.example", "e"),
        ),
        dmarc=DmarcResult(word, domain, "reject", spf_aligned=spf, dkim_aligned=dkim),
    )


def test_rows_group_equal_messages_and_count_only_evaluated_mail() -> None:
    good = results("Far.Test", DmarcWord.PASS, spf=True, dkim=True)
    bad = results("far.test", DmarcWord.FAIL, spf=False, dkim=False)
    rows = report_rows(
        [
            inbound("192.0.2.1", good),
            inbound("192.0.2.1", good),
            inbound("192.0.2.2", bad, folder="Quarantine"),
            inbound("192.0.2.2", bad),
            # Refused at DATA for DMARC (its Rejection event kept the results).
            replace(inbound("192.0.2.2", bad), refused=True),
            inbound("192.0.2.3", results("none.test", DmarcWord.NONE, spf=True, dkim=True)),
            inbound("192.0.2.3", results("t.test", DmarcWord.TEMPERROR, spf=True, dkim=True)),
            inbound("192.0.2.3", AuthResults()),
            InboundAuth("m", T0, "192.0.2.4", {"dmarc": {"result": "no-such-word"}}),
        ]
    )
    assert list(rows) == ["far.test"]
    grouped = {(r.source_ip, r.disposition): r for r in rows["far.test"]}
    assert sorted((ip, d, r.count) for (ip, d), r in grouped.items()) == [
        ("192.0.2.1", "none", 2),
        ("192.0.2.2", "none", 1),
        ("192.0.2.2", "quarantine", 1),
        ("192.0.2.2", "reject", 1),
    ]
    passed = grouped[("192.0.2.1", "none")]
    assert (passed.dkim, passed.spf, passed.envelope_from) == ("pass", "pass", "b.Far.Test")
    assert [(d.domain, d.selector) for d in passed.dkim_results] == [
        ("Far.Test", "s1"),
        ("esp.example", "e"),
    ]
    assert passed.spf_results == (AuthDomainResult("b.Far.Test", "pass", scope="mfrom"),)


def test_the_xml_reads_back_through_our_parser_as_the_same_report() -> None:
    rows = report_rows(
        [
            inbound("192.0.2.1", results("far.test", DmarcWord.PASS, spf=True, dkim=False)),
            inbound("2001:db8::1", results("far.test", DmarcWord.FAIL, spf=False, dkim=False)),
        ]
    )["far.test"]
    report = AggregateReport(
        ReportMetadata("mx.ours.test", "r@ours.test", "far.test.1.2", T0, T0 + timedelta(days=1)),
        PolicyPublished("far.test", adkim="s", aspf="r", p="reject", sp="quarantine", pct=50),
        tuple(rows),
    )
    xml = report_xml(report)
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    back = parse_aggregate_report(xml)
    # The parser lower-cases domains; everything else comes back as written.
    assert back == report
    assert (back.messages, back.passed, back.failed) == (2, 1, 1)
