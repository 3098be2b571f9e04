"""Reading DSNs and ARF complaint reports about our outbound mail.

Data in tests/data/dsn (provenance and licences in its SOURCES.md): a bounce and a delay
notice from a real Postfix 3.7, real DSNs from CPython's email test data, RFC 5965's
example, and DSNs written in the shape of Postfix's and Exchange Online's. Hostile input
comes from hypothesis and the MIME corpus in tests/data/mime: whatever the bytes, a typed
answer and never an exception.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mairust.outbound.bounce_class import BounceClass
from mairust.outbound.dsn import (
    Dsn,
    OriginalEnvelope,
    RecipientOutcome,
    Reporter,
    build_dsn,
)
from mairust.outbound.dsn_fields import DsnAction
from mairust.outbound.report_parsing import (
    ComplaintReport,
    DeliveryReport,
    MalformedReport,
    NotAReport,
    ReportedRecipient,
    parse_report,
)

DATA = Path(__file__).resolve().parents[2] / "data"
DSN_DATA = DATA / "dsn"
MIME_CORPUS = sorted((DATA / "mime").rglob("*.eml"))
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def read(name: str) -> bytes:
    return (DSN_DATA / name).read_bytes()


def delivery(raw: bytes) -> DeliveryReport:
    report = parse_report(raw)
    assert isinstance(report, DeliveryReport), report
    return report


def test_postfix_bounce_two_recipients() -> None:
    report = delivery(read("postfix-bounce.eml"))
    assert report.reporting_mta == "mx.example.org"
    assert report.original_message_id == "<q3-numbers-7f3a@example.com>"
    assert report.arrival_date == datetime(2026, 11, 30, 10, 15, 2, tzinfo=UTC)
    first, second = report.recipients
    assert (first.final_recipient, first.action, first.status) == (
        "nobody@example.net",
        DsnAction.FAILED,
        "5.1.1",
    )
    assert first.original_recipient == "nobody@example.net"
    assert first.remote_mta == "mx1.example.net"
    assert first.diagnostic_type == "smtp"
    # The folded Diagnostic-Code comes back on one line.
    assert first.diagnostic == (
        "550 5.1.1 <nobody@example.net>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )
    assert (second.final_recipient, second.status) == ("full@example.net", "5.2.2")


def test_postfix_delay_notice_with_headers_only_and_our_envelope_id() -> None:
    report = delivery(read("postfix-delayed.eml"))
    assert report.original_envelope_id == "mairust-0f3c9a1e"
    assert report.original_message_id == "<notes-19c2@example.com>"
    (recipient,) = report.recipients
    assert (recipient.action, recipient.status) == (DsnAction.DELAYED, "4.4.1")
    assert recipient.diagnostic_type == "x-postfix"
    assert recipient.diagnostic == (
        "connect to mx.example.net[192.0.2.30]:25: Connection timed out"
    )
    assert recipient.will_retry_until == datetime(2026, 12, 5, 10, 20, 4, tzinfo=UTC)


def test_exchange_online_ndr() -> None:
    report = delivery(read("exchange-online-ndr.eml"))
    assert report.reporting_mta == "DM6PR11MB1234.namprd11.prod.outlook.com"
    assert report.original_message_id == "<offer-88a1@example.com>"
    (recipient,) = report.recipients
    assert (recipient.final_recipient, recipient.status) == ("nobody@contoso.com", "5.1.10")
    assert recipient.diagnostic is not None
    assert "RESOLVER.ADR.RecipientNotFound" in recipient.diagnostic


def test_sun_ims_dsn_without_report_type_and_a_commented_status() -> None:
    report = delivery(read("cpython/msg_16.txt"))
    (recipient,) = report.recipients
    assert recipient.final_recipient == "jangel1@cougar.noc.ucla.edu"
    assert recipient.status == "5.0.0"  # "Status: 5.0.0 (recipient reached disk quota)"
    assert report.original_envelope_id == "0GK500B4HD0888@cougar.noc.ucla.edu"
    assert report.original_message_id == "<002001c144a6$8752e060$56104586@oxy.edu>"


def test_amavis_dsn_with_many_recipients() -> None:
    report = delivery(read("cpython/msg_43.txt"))
    assert len(report.recipients) == 25
    assert {r.status for r in report.recipients} == {"5.7.1"}
    assert report.original_message_id == "<edab.7804f5cb8070@python.org>"


def test_dsn_with_a_truncated_boundary_is_malformed() -> None:
    assert isinstance(parse_report(read("cpython/msg_25.txt")), MalformedReport)


def test_rfc5965_complaint() -> None:
    report = parse_report(read("rfc5965-arf.eml"))
    assert isinstance(report, ComplaintReport)
    assert report.feedback_type == "abuse"
    assert report.original_mail_from == "somespammer@example.net"
    assert report.original_rcpt_to == ("user@example.com",)
    assert report.source_ip == "192.0.2.1"
    assert report.reporting_mta == "mail.example.com"
    assert report.reported_domains == ("example.net",)
    assert report.original_message_id == "8787KJKJ3K4J3K4J3K4J3.mail@example.net"
    assert report.version == "1"


def test_provider_style_complaint_with_headers_only() -> None:
    report = parse_report(read("yahoo-style-arf.eml"))
    assert isinstance(report, ComplaintReport)
    assert report.original_mail_from == "bounces+ab12cd@example.com"
    assert report.original_rcpt_to == ("reader@example-mailbox.net",)
    assert report.original_message_id == "<weekly-2026-48.reader@example.com>"
    assert report.reported_domains == ("example.com", "news.example.com")
    assert report.arrival_date == datetime(2026, 11, 30, 10, 58, 41, tzinfo=UTC)


def built(
    outcomes: list[RecipientOutcome], ret: str | None = "FULL", original: bytes | None = None
) -> Dsn:
    result = build_dsn(
        original
        or b"From: a@example.com\r\nTo: x@example.net\r\nMessage-ID: <orig-1@example.com>\r\n"
        b"Subject: hello\r\n\r\nbody\r\n",
        OriginalEnvelope("<a@example.com>", envid="env-42", ret=ret),
        outcomes,
        Reporter("mx.mairust.test"),
        now=NOW,
    )
    assert isinstance(result, Dsn)
    return result


def test_round_trip_through_our_own_builder() -> None:
    outcomes = [
        RecipientOutcome(
            "gone@example.net",
            DsnAction.FAILED,
            "5.1.1",
            original_recipient="rfc822;Gone@example.net",
            remote_mta="mx.example.net",
            diagnostic="550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown",
            last_attempt=NOW,
        ),
        RecipientOutcome(
            "later@example.org",
            DsnAction.DELAYED,
            "4.4.1",
            notify=("FAILURE", "DELAY"),
            diagnostic="x-mairust; connection timed out",
            will_retry_until=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
        ),
    ]
    for ret in ("FULL", "HDRS"):
        report = delivery(built(outcomes, ret=ret).message)
        assert report.reporting_mta == "mx.mairust.test"
        assert report.original_envelope_id == "env-42"
        assert report.original_message_id == "<orig-1@example.com>"
        got = [
            (r.final_recipient, r.original_recipient, r.action, r.status, r.last_attempt)
            for r in report.recipients
        ]
        assert got == [
            ("gone@example.net", "Gone@example.net", DsnAction.FAILED, "5.1.1", NOW),
            ("later@example.org", None, DsnAction.DELAYED, "4.4.1", None),
        ]
        assert report.recipients[0].diagnostic == (
            "550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown"
        )
        assert report.recipients[1].diagnostic_type == "x-mairust"
        assert report.recipients[1].will_retry_until == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_round_trip_of_a_non_ascii_recipient() -> None:
    outcome = RecipientOutcome("josé@exámple.net", DsnAction.FAILED, "5.1.1")
    report = delivery(built([outcome]).message)
    assert report.recipients[0].final_recipient == "josé@exámple.net"


def test_global_delivery_status_rfc6533() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\r\nTo: a@example.com\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=global-delivery-status; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
        b"--b\r\nContent-Type: message/global-delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.org\r\n\r\n"
        b"Final-Recipient: utf-8; jos\\x{E9}@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"\r\nFinal-Recipient: rfc822; other@example.net\r\nStatus: 5.2.2\r\n"
        b"\r\n--b--\r\n"
    )
    report = delivery(raw)
    assert [(r.final_recipient, r.action, r.status) for r in report.recipients] == [
        ("josé@example.net", DsnAction.FAILED, "5.1.1"),
        ("other@example.net", DsnAction.FAILED, "5.2.2"),  # no Action: taken from the status
    ]


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
        # A read receipt (RFC 8098) is a report, but not one about delivery.
        b"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\r\n--b--\r\n",
        b"",
    ],
)
def test_ordinary_mail_is_not_a_report(raw: bytes) -> None:
    assert isinstance(parse_report(raw), NotAReport)


@pytest.mark.parametrize(
    "raw",
    [
        # Says delivery-status, has no such part.
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n--b--\r\n",
        # A status part whose recipient block names no recipient.
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; x\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n",
        # A recipient with neither a usable Action nor a Status.
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: gone\r\n--b--\r\n",
        # A feedback report without Feedback-Type.
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: message/feedback-report\r\n\r\nVersion: 1\r\n--b--\r\n",
        # multipart/report with no parts at all.
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n",
    ],
)
def test_broken_reports_are_malformed(raw: bytes) -> None:
    assert isinstance(parse_report(raw), MalformedReport)


@pytest.mark.parametrize("path", MIME_CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_mime_corpus_gets_a_typed_answer(path: Path) -> None:
    result = parse_report(path.read_bytes())
    # None of the corpus messages is a report: each is read as ordinary mail.
    assert isinstance(result, NotAReport), result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(raw: bytes) -> None:
    assert isinstance(parse_report(raw), NotAReport | MalformedReport)


def _report_templates() -> list[bytes]:
    names = ["postfix-3.7-bounce.eml", "exchange-online-ndr.eml", "rfc5965-arf.eml"]
    return [read(name) for name in names]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_report_templates()),
    st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=0, max_size=8)), max_size=6),
    st.integers(0, 10_000),
)
def test_damaged_reports_never_raise(
    template: bytes, edits: list[tuple[int, bytes]], cut: int
) -> None:
    raw = bytearray(template[: max(cut, 200)])
    for offset, replacement in edits:
        at = offset % (len(raw) + 1)
        raw[at : at + len(replacement)] = replacement
    result = parse_report(bytes(raw))
    assert isinstance(result, DeliveryReport | ComplaintReport | NotAReport | MalformedReport)
    if isinstance(result, DeliveryReport):
        assert result.recipients
        assert all(r.status[0] in "245" for r in result.recipients)


FIELD_NAMES = [
    "Reporting-MTA",
    "Original-Envelope-Id",
    "Arrival-Date",
    "Final-Recipient",
    "Original-Recipient",
    "Action",
    "Status",
    "Remote-MTA",
    "Diagnostic-Code",
    "Last-Attempt-Date",
    "Will-Retry-Until",
    "Feedback-Type",
    "Original-Mail-From",
    "Original-Rcpt-To",
    "Reported-Domain",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "rfc822; a@example.net",
            "failed",
            "delayed",
            "5.1.1",
            "4.4.1 (x)",
            "smtp; 550 no",
            "utf-8; \\x{110000}@x",
            "Mon, 30 Nov 2026 10:00:00 +0000",
            "abuse",
            "dns; mx",
        ]
    ),
    st.text(max_size=40),
)
BLOCKS = st.lists(st.lists(st.tuples(st.sampled_from(FIELD_NAMES), VALUES), max_size=6), max_size=4)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["delivery-status", "global-delivery-status", "feedback-report", ""]),
    st.sampled_from(
        ["message/delivery-status", "message/global-delivery-status", "message/feedback-report"]
    ),
    BLOCKS,
)
def test_reports_of_random_fields_get_a_typed_answer(
    report_type: str, part_type: str, blocks: list[list[tuple[str, str]]]
) -> None:
    fields = "\r\n\r\n".join(
        "\r\n".join(f"{name}: {value}" for name, value in block) for block in blocks
    )
    raw = (
        f"Content-Type: multipart/report; report-type={report_type}; boundary=b\r\n\r\n"
        f"--b\r\nContent-Type: {part_type}\r\n\r\n{fields}\r\n--b--\r\n"
    ).encode("utf-8", "surrogatepass")
    result = parse_report(raw)
    assert isinstance(result, DeliveryReport | ComplaintReport | NotAReport | MalformedReport)
    if isinstance(result, DeliveryReport):
        for recipient in result.recipients:
            assert recipient.final_recipient
            assert isinstance(recipient.action, DsnAction)
            assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", recipient.status)
    if isinstance(result, ComplaintReport):
        assert result.feedback_type


def test_reported_recipients_carry_their_bounce_class() -> None:
    postfix = delivery(read("postfix-bounce.eml")).recipients
    assert [r.classification.bounce_class for r in postfix] == [
        BounceClass.UNKNOWN_USER,
        BounceClass.MAILBOX_FULL,
    ]
    assert postfix[0].classification.hard
    (exchange,) = delivery(read("exchange-online-ndr.eml")).recipients
    assert exchange.classification.bounce_class is BounceClass.UNKNOWN_USER
    (delayed,) = delivery(read("postfix-delayed.eml")).recipients
    assert delayed.classification.bounce_class is BounceClass.NETWORK
    assert not delayed.classification.permanent
    # Sun IMS: a generic 5.0.0 and words only ("recipient reached disk quota" in the status
    # comment is not a diagnostic): the status's registry meaning, permanent.
    (sun,) = delivery(read("cpython/msg_16.txt")).recipients
    assert sun.classification.permanent
    amavis = delivery(read("cpython/msg_43.txt")).recipients
    assert {r.classification.bounce_class for r in amavis} == {BounceClass.SPAM_CONTENT}


def test_a_generic_dsn_status_gives_way_to_the_quoted_reply() -> None:
    recipient = ReportedRecipient(
        "a@example.net", DsnAction.FAILED, "5.0.0", diagnostic="550 5.2.1 mailbox disabled"
    )
    assert recipient.classification.status == "5.2.1"
    assert recipient.classification.bounce_class is BounceClass.MAILBOX_DISABLED


def test_real_postfix_bounce() -> None:
    report = delivery(read("postfix-3.7-bounce.eml"))
    assert report.reporting_mta == "postfix-reference.test"
    assert report.original_envelope_id == "mairust-env-1"
    assert report.original_message_id == "<q3-numbers-real@sender.test>"
    (recipient,) = report.recipients
    assert recipient == ReportedRecipient(
        final_recipient="user@bad.test",
        action=DsnAction.FAILED,
        status="5.3.0",
        original_recipient="User@bad.test",
        remote_mta="127.0.0.1",
        diagnostic="500 5.3.0 Error: command failed",
        diagnostic_type="smtp",
    )


def test_real_postfix_delay_notice() -> None:
    report = delivery(read("postfix-3.7-delay.eml"))
    assert report.original_message_id == "<q3-numbers-real@sender.test>"  # headers only
    (recipient,) = report.recipients
    assert (recipient.final_recipient, recipient.original_recipient) == (
        "other@soft.test",
        "other@soft.test",
    )
    assert (recipient.action, recipient.status) == (DsnAction.DELAYED, "4.3.0")
    assert recipient.will_retry_until == datetime(2026, 12, 5, 11, 20, 18, tzinfo=UTC)
    assert not recipient.classification.permanent
