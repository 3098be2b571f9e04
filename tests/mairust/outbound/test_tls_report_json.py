"""TLS-RPT texts: the ``_smtp._tls`` record's rua list (bad records mean no reports), and
the JSON report checked field by field against RFC 8460 appendix B's example, gzip'd the
same way every time."""

from __future__ import annotations

import gzip
import json
from datetime import date

import pytest

from mairust.model.tls_reports import TlsResultCount, TlsResultKey
from mairust.outbound.tls_report_json import (
    mailto_address,
    parse_tlsrpt_record,
    report_gzip,
    report_id_for,
    report_json,
)


@pytest.mark.parametrize(
    ("records", "ruas"),
    [
        (["v=TLSRPTv1; rua=mailto:tls@far.test"], ("mailto:tls@far.test",)),
        (
            ["v=spf1 -all", "v=TLSRPTv1;rua=mailto:a@far.test,https://r.far.test/tlsrpt"],
            ("mailto:a@far.test", "https://r.far.test/tlsrpt"),
        ),
        # Unknown fields and a trailing ";" are fine; the first rua counts.
        (
            ["v=TLSRPTv1; ext=1; rua=mailto:a@far.test ; rua=mailto:b@far.test;"],
            ("mailto:a@far.test",),
        ),
        # Unusable URIs are dropped, the rest kept.
        (
            ["v=TLSRPTv1; rua=ftp://x.test/r,mailto:no-at,mailto:a b@x.test,https://r.x.test/"],
            ("https://r.x.test/",),
        ),
        (["v=TLSRPTv1; rua=https://user:pw@r.x.test/,mailto:\u00fc@x.test"], None),
        (["v=TLSRPTv1; rua=mailto:a@x.test, mailto:a@x.test"], ("mailto:a@x.test",)),
        # Two TLSRPT records, a wrong version, no rua, broken fields: no reports (§3).
        (["v=TLSRPTv1; rua=mailto:a@x.test", "v=TLSRPTv1; rua=mailto:b@x.test"], None),
        (["v=TLSRPTv10; rua=mailto:a@x.test"], None),
        (["v=TLSRPTv1"], None),
        (["v=TLSRPTv1; rua"], None),
        (["v=TLSRPTv1; r\u00fca=mailto:a@x.test"], None),
        ([" v=TLSRPTv1; rua=mailto:a@x.test"], None),
        ([], None),
    ],
)
def test_the_rua_of_a_tlsrpt_record(records: list[str], ruas: tuple[str, ...] | None) -> None:
    assert parse_tlsrpt_record(records) == ruas


def test_a_mailto_uri_gives_its_address() -> None:
    assert mailto_address("mailto:tls@far.test") == "tls@far.test"
    assert mailto_address("https://r.far.test/") is None


DAY = date(2016, 4, 1)
POLICY = ("version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400")


def key(**fields: str) -> TlsResultKey:
    return TlsResultKey(
        DAY, "company-y.example", "sts", POLICY, ("*.mail.company-y.example",), **fields
    )


# RFC 8460 appendix B's example, but for the optional "additional-information" and
# "failure-reason-code" (we have neither) and the receiving-ip of the first failure.
RFC_EXAMPLE = {
    "organization-name": "Company-X",
    "date-range": {
        "start-datetime": "2016-04-01T00:00:00Z",
        "end-datetime": "2016-04-01T23:59:59Z",
    },
    "contact-info": "sts-reporting@company-x.example",
    "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
    "policies": [
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": list(POLICY),
                "policy-domain": "company-y.example",
                "mx-host": ["*.mail.company-y.example"],
            },
            "summary": {
                "total-successful-session-count": 5326,
                "total-failure-session-count": 303,
            },
            "failure-details": [
                {
                    "result-type": "certificate-expired",
                    "sending-mta-ip": "2001:db8:abcd:0012::1",
                    "receiving-mx-hostname": "mx1.mail.company-y.example",
                    "failed-session-count": 100,
                },
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "2001:db8:abcd:0013::1",
                    "receiving-mx-hostname": "mx2.mail.company-y.example",
                    "receiving-ip": "203.0.113.56",
                    "failed-session-count": 200,
                },
                {
                    "result-type": "validation-failure",
                    "sending-mta-ip": "198.51.100.62",
                    "receiving-mx-hostname": "mx-backup.mail.company-y.example",
                    "receiving-ip": "203.0.113.58",
                    "failed-session-count": 3,
                },
            ],
        }
    ],
}
COUNTS = [
    TlsResultCount(key(), 5000),
    TlsResultCount(key(), 326),  # a second loop's row of the same key adds up
    TlsResultCount(
        key(
            result_type="validation-failure",
            sending_ip="198.51.100.62",
            receiving_mx="mx-backup.mail.company-y.example",
            receiving_ip="203.0.113.58",
        ),
        3,
    ),
    TlsResultCount(
        key(
            result_type="certificate-expired",
            sending_ip="2001:db8:abcd:0012::1",
            receiving_mx="mx1.mail.company-y.example",
        ),
        100,
    ),
    TlsResultCount(
        key(
            result_type="starttls-not-supported",
            sending_ip="2001:db8:abcd:0013::1",
            receiving_mx="mx2.mail.company-y.example",
            receiving_ip="203.0.113.56",
        ),
        200,
    ),
    # Another domain's and another day's counts are not this report's.
    TlsResultCount(TlsResultKey(DAY, "other.example", "sts"), 9),
    TlsResultCount(TlsResultKey(date(2016, 4, 2), "company-y.example", "sts"), 9),
]


def test_the_report_has_the_fields_of_the_rfc_example() -> None:
    report = report_json(
        DAY,
        "company-y.example",
        COUNTS,
        org_name="Company-X",
        contact="sts-reporting@company-x.example",
        report_id="5065427c-23d3-47ca-b6e0-946ea0e8c4be",
    )
    assert report == RFC_EXAMPLE


def test_each_policy_seen_gets_its_entry_and_a_fetch_failure_has_no_mx() -> None:
    new_policy = ("version: STSv1", "mode: enforce", "mx: mx.x.test", "max_age: 600")
    counts = [
        TlsResultCount(TlsResultKey(DAY, "x.test", "sts", new_policy, ("mx.x.test",)), 4),
        TlsResultCount(TlsResultKey(DAY, "x.test", "sts", result_type="sts-policy-fetch-error"), 2),
        TlsResultCount(TlsResultKey(DAY, "x.test", "no-policy-found"), 1),
    ]
    report = report_json(DAY, "x.test", counts, org_name="o", contact="c", report_id="r")
    assert report["policies"] == [
        {
            "policy": {"policy-type": "no-policy-found", "policy-domain": "x.test"},
            "summary": {"total-successful-session-count": 1, "total-failure-session-count": 0},
        },
        {
            "policy": {"policy-type": "sts", "policy-domain": "x.test"},
            "summary": {"total-successful-session-count": 0, "total-failure-session-count": 2},
            "failure-details": [
                {"result-type": "sts-policy-fetch-error", "failed-session-count": 2}
            ],
        },
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": list(new_policy),
                "policy-domain": "x.test",
                "mx-host": ["mx.x.test"],
            },
            "summary": {"total-successful-session-count": 4, "total-failure-session-count": 0},
        },
    ]


def test_the_gzipd_report_reads_back_and_is_the_same_bytes_each_time() -> None:
    packed = report_gzip(RFC_EXAMPLE)
    assert packed[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(packed)) == RFC_EXAMPLE
    assert report_gzip(RFC_EXAMPLE) == packed


def test_a_report_id_is_the_same_for_the_same_report() -> None:
    assert report_id_for(DAY, "far.test", "mx.ours.test") == "20160401.far.test@mx.ours.test"
