"""The DSNs we build: RFC 3464 structure as the stdlib email package reads it, RFC 3461
NOTIFY / RET / ENVID / ORCPT, never to <>, CRLF only, the returned original capped."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from email.message import Message

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mairust.outbound.dsn import (
    Dsn,
    NoDsn,
    NoDsnReason,
    OriginalEnvelope,
    RecipientOutcome,
    Reporter,
    build_dsn,
    dsn_requested,
)
from mairust.outbound.dsn_fields import DsnAction, one_line, strip_brackets
from mairust.outbound.report_parsing import DeliveryReport, parse_report

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ORIGINAL = (
    b"From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: lunch\r\n"
    b"Message-ID: <lunch-1@example.com>\r\nDate: Mon, 30 Nov 2026 11:00:00 +0000\r\n"
    b"\r\nShall we?\r\n"
)
REPORTER = Reporter("mx.mairust.test")
FAILED = RecipientOutcome(
    "bob@example.net",
    DsnAction.FAILED,
    "5.1.1",
    remote_mta="mx.example.net",
    diagnostic="550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
    last_attempt=NOW,
)
DELAYED = RecipientOutcome(
    "carol@example.org",
    DsnAction.DELAYED,
    "4.4.1",
    notify=("DELAY", "FAILURE"),
    diagnostic="x-mairust; connection timed out",
    will_retry_until=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
)


def build(
    outcomes: list[RecipientOutcome],
    *,
    ret: str | None = "FULL",
    original: bytes = ORIGINAL,
    reverse_path: str = "<alice@example.com>",
    reporter: Reporter = REPORTER,
) -> Dsn:
    result = build_dsn(
        original,
        OriginalEnvelope(reverse_path, envid="q-77", ret=ret),
        outcomes,
        reporter,
        now=NOW,
        message_id="<dsn-1@mx.mairust.test>",
    )
    assert isinstance(result, Dsn), result
    return result


def parsed(dsn: Dsn) -> Message:
    return email.message_from_bytes(dsn.message, policy=policy.compat32)


def messages(payload: object) -> list[Message]:
    assert isinstance(payload, list)
    return [item for item in payload if isinstance(item, Message)]


def parts_of(dsn: Dsn) -> list[Message]:
    return messages(parsed(dsn).get_payload())


def status_blocks(dsn: Dsn) -> list[Message]:
    """The delivery-status part's blocks: per-message fields first, then one per recipient."""
    return messages(parts_of(dsn)[1].get_payload())


def returned_message(dsn: Dsn) -> Message:
    return messages(parts_of(dsn)[2].get_payload())[0]


def text_of(part: Message) -> str:
    payload = part.get_payload()
    assert isinstance(payload, str)
    return payload


def human_text(dsn: Dsn) -> str:
    payload = parts_of(dsn)[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def assert_crlf_only(data: bytes) -> None:
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_structure_as_the_stdlib_reads_it() -> None:
    dsn = build([FAILED])
    message = parsed(dsn)
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "delivery-status"
    assert [p.get_content_type() for p in parts_of(dsn)] == [
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    ]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Message-ID"] == "<dsn-1@mx.mairust.test>"
    assert message["In-Reply-To"] == "<lunch-1@example.com>"
    assert message["To"] == "<alice@example.com>"
    assert message["Subject"] == "Undelivered Mail Returned to Sender"
    assert not message.defects
    assert all(not part.defects for part in parts_of(dsn))


def test_envelope_is_from_null_to_the_reverse_path() -> None:
    dsn = build([FAILED])
    assert (dsn.envelope_from, dsn.envelope_to) == ("", "alice@example.com")


def test_status_fields_rfc3464() -> None:
    outcome = RecipientOutcome(
        "bob@example.net",
        DsnAction.FAILED,
        "5.1.1",
        original_recipient="rfc822;Bob+2Bx@example.net",
        remote_mta="mx.example.net",
        diagnostic="550 5.1.1 unknown",
        last_attempt=NOW,
    )
    per_message, per_recipient = status_blocks(build([outcome]))
    assert per_message["Reporting-MTA"] == "dns; mx.mairust.test"
    assert per_message["Original-Envelope-Id"] == "q-77"
    assert per_recipient["Final-Recipient"] == "rfc822; bob@example.net"
    assert per_recipient["Original-Recipient"] == "rfc822; Bob+x@example.net"  # xtext decoded
    assert per_recipient["Action"] == "failed"
    assert per_recipient["Status"] == "5.1.1"
    assert per_recipient["Remote-MTA"] == "dns; mx.example.net"
    assert per_recipient["Diagnostic-Code"] == "smtp; 550 5.1.1 unknown"
    assert per_recipient["Last-Attempt-Date"] == "Mon, 30 Nov 2026 12:00:00 +0000"


def test_one_dsn_covers_every_recipient_of_the_call() -> None:
    dsn = build([FAILED, DELAYED])
    blocks = status_blocks(dsn)
    assert [b["Final-Recipient"] for b in blocks[1:]] == [
        "rfc822; bob@example.net",
        "rfc822; carol@example.org",
    ]
    assert blocks[2]["Will-Retry-Until"] == "Fri, 04 Dec 2026 12:00:00 +0000"
    assert dsn.recipients == (FAILED, DELAYED)
    assert parsed(dsn)["Subject"] == "Delivery Status Notification"


@pytest.mark.parametrize("reverse_path", ["", "<>", " <> "])
def test_never_a_dsn_to_the_null_reverse_path(reverse_path: str) -> None:
    result = build_dsn(ORIGINAL, OriginalEnvelope(reverse_path), [FAILED], REPORTER, now=NOW)
    assert result == NoDsn(NoDsnReason.NULL_REVERSE_PATH)


@pytest.mark.parametrize(
    ("action", "notify", "wanted"),
    [
        (DsnAction.FAILED, (), True),  # RFC 3461 default: failures only
        (DsnAction.DELAYED, (), False),
        (DsnAction.DELIVERED, (), False),
        (DsnAction.FAILED, ("NEVER",), False),
        (DsnAction.FAILED, ("never",), False),
        (DsnAction.FAILED, ("DELAY",), False),
        (DsnAction.DELAYED, ("DELAY",), True),
        (DsnAction.FAILED, ("SUCCESS", "FAILURE"), True),
        (DsnAction.DELIVERED, ("SUCCESS",), True),
        (DsnAction.RELAYED, ("SUCCESS",), True),
        (DsnAction.EXPANDED, ("SUCCESS",), True),
        (DsnAction.DELIVERED, ("FAILURE", "DELAY"), False),
    ],
)
def test_notify_gates_each_action(action: DsnAction, notify: tuple[str, ...], wanted: bool) -> None:
    assert dsn_requested(action, notify) is wanted


def test_notify_never_means_no_dsn_at_all() -> None:
    never = RecipientOutcome("bob@example.net", DsnAction.FAILED, "5.1.1", notify=("NEVER",))
    result = build_dsn(ORIGINAL, OriginalEnvelope("a@example.com"), [never], REPORTER, now=NOW)
    assert result == NoDsn(NoDsnReason.NOT_REQUESTED)


def test_default_notify_leaves_delays_out() -> None:
    quiet_delay = RecipientOutcome("carol@example.org", DsnAction.DELAYED, "4.4.1")
    dsn = build([FAILED, quiet_delay])
    assert dsn.recipients == (FAILED,)
    assert len(status_blocks(dsn)) == 2


def test_success_notification() -> None:
    delivered = RecipientOutcome(
        "bob@example.net", DsnAction.DELIVERED, "2.0.0", notify=("SUCCESS",)
    )
    dsn = build([delivered], ret=None)
    assert parsed(dsn)["Subject"] == "Successful Mail Delivery Report"
    assert "was delivered to <bob@example.net>" in human_text(dsn)


@pytest.mark.parametrize("ret", [None, "HDRS", "hdrs"])
def test_headers_only_unless_ret_full(ret: str | None) -> None:
    dsn = build([FAILED], ret=ret)
    returned = parts_of(dsn)[2]
    assert returned.get_content_type() == "text/rfc822-headers"
    assert dsn.returned == "headers"
    text = text_of(returned)
    assert "Message-ID: <lunch-1@example.com>" in text
    assert "Shall we?" not in text


def test_full_original_returned_with_ret_full() -> None:
    dsn = build([FAILED])
    inner = returned_message(dsn)
    assert inner["Subject"] == "lunch"
    assert text_of(inner) == "Shall we?\r\n"
    assert dsn.returned == "full"


def test_size_cap_returns_headers_only_and_says_so() -> None:
    big = ORIGINAL + b"x" * 70 + b"\r\n" * 2000
    dsn = build([FAILED], original=big, reporter=Reporter("mx.mairust.test", 4096))
    assert parts_of(dsn)[2].get_content_type() == "text/rfc822-headers"
    assert dsn.returned == "headers"
    human = " ".join(human_text(dsn).split())
    assert f"The original message was {len(big)} bytes" in human
    assert "only its headers are returned" in human


@pytest.mark.parametrize(
    "original",
    [
        ORIGINAL + b"y" * 1200 + b"\r\n",  # a line over 998 octets
        ORIGINAL + b"nul \x00 byte\r\n",
    ],
)
def test_untransportable_original_is_not_returned_whole(original: bytes) -> None:
    dsn = build([FAILED], original=original)
    assert dsn.returned == "headers"
    assert "cannot be returned as it was" in human_text(dsn)


def test_eight_bit_original_is_declared_8bit() -> None:
    original = ORIGINAL.replace(b"Shall we?", "Grüße".encode())
    returned = parts_of(build([FAILED], original=original))[2]
    assert returned["Content-Transfer-Encoding"] == "8bit"


def test_bare_line_endings_in_the_original_become_crlf() -> None:
    mixed = b"From: a@example.com\nTo: b@example.net\rSubject: x\r\n\nline1\rline2\n"
    dsn = build([FAILED], original=mixed)
    assert_crlf_only(dsn.message)
    assert returned_message(dsn)["Subject"] == "x"


def test_human_part_says_what_happened_in_plain_words() -> None:
    text = human_text(build([FAILED, DELAYED]))
    assert "could not be delivered to <bob@example.net>" in text
    assert "mailbox does not exist (5.1.1)" in text
    assert "will not try again" in text
    assert "has not been delivered to <carol@example.org> yet" in text
    assert "We will keep trying until Fri, 04 Dec 2026" in text


def test_header_injection_through_addresses_and_replies_is_flattened() -> None:
    evil = RecipientOutcome(
        "bob@example.net\r\nBcc: victim@example.org",
        DsnAction.FAILED,
        "5.1.1",
        diagnostic="550 5.1.1 no\r\nX-Injected: yes\r\n\r\nbody",
    )
    dsn = build([evil], reverse_path="<alice@example.com>\r\nBcc: victim@example.org")
    assert_crlf_only(dsn.message)
    message = parsed(dsn)
    assert message["Bcc"] is None
    block = status_blocks(dsn)[1]
    assert block["X-Injected"] is None
    assert "\n" not in dsn.envelope_to


def test_multiline_reply_is_one_diagnostic() -> None:
    outcome = RecipientOutcome(
        "bob@example.net",
        DsnAction.FAILED,
        "5.1.1",
        diagnostic="550-5.1.1 The email account that you tried to reach does not exist.\r\n"
        "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser - gsmtp",
    )
    block = status_blocks(build([outcome]))[1]
    unfolded = re.sub(r"\r?\n ", " ", block["Diagnostic-Code"])
    assert unfolded == (
        "smtp; 550 5.1.1 The email account that you tried to reach does not exist. "
        "https://support.google.com/mail/?p=NoSuchUser - gsmtp"
    )


def test_non_ascii_recipient_keeps_the_report_7bit() -> None:
    outcome = RecipientOutcome("josé@exámple.net", DsnAction.FAILED, "5.1.1")
    dsn = build([outcome], ret="HDRS")
    block = status_blocks(dsn)[1]
    assert block["Final-Recipient"] == "utf-8; jos\\x{E9}@ex\\x{E1}mple.net"
    assert parts_of(dsn)[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert "josé@exámple.net" in human_text(dsn)


def test_a_new_message_id_when_none_is_given() -> None:
    first = build_dsn(ORIGINAL, OriginalEnvelope("a@example.com"), [FAILED], REPORTER, now=NOW)
    second = build_dsn(ORIGINAL, OriginalEnvelope("a@example.com"), [FAILED], REPORTER, now=NOW)
    assert isinstance(first, Dsn) and isinstance(second, Dsn)
    assert first.message_id != second.message_id
    assert first.message_id.endswith("@mx.mairust.test>")


@pytest.mark.parametrize(
    ("action", "status"),
    [
        (DsnAction.FAILED, "2.0.0"),
        (DsnAction.DELAYED, "5.1.1"),
        (DsnAction.DELIVERED, "5.0.0"),
        (DsnAction.FAILED, "5.1"),
        (DsnAction.FAILED, "550"),
    ],
)
def test_outcome_refuses_a_status_its_action_cannot_carry(action: DsnAction, status: str) -> None:
    with pytest.raises(ValueError):
        RecipientOutcome("bob@example.net", action, status)


@pytest.mark.parametrize("address", ["", "  ", "<>", "\r\n"])
def test_outcome_refuses_an_empty_recipient(address: str) -> None:
    with pytest.raises(ValueError):
        RecipientOutcome(address, DsnAction.FAILED, "5.1.1")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    original=st.binary(max_size=3000),
    diagnostic=st.text(max_size=1500),
    address=(st.emails() | st.text(min_size=1, max_size=80)).filter(
        lambda a: strip_brackets(one_line(a)) != ""
    ),
    ret=st.sampled_from([None, "FULL", "HDRS"]),
)
def test_any_input_gives_crlf_only_short_lines_and_round_trips(
    original: bytes, diagnostic: str, address: str, ret: str | None
) -> None:
    outcome = RecipientOutcome(address, DsnAction.FAILED, "5.7.1", diagnostic=diagnostic)
    dsn = build([outcome], ret=ret, original=original)
    assert_crlf_only(dsn.message)
    assert max(len(line) for line in dsn.message.split(b"\r\n")) <= 998
    message = parsed(dsn)
    assert message.get_content_type() == "multipart/report"
    report = parse_report(dsn.message)
    assert isinstance(report, DeliveryReport)
    assert [(r.action, r.status) for r in report.recipients] == [(DsnAction.FAILED, "5.7.1")]


def test_eight_bit_dsn_says_so_for_the_sender() -> None:
    original = ORIGINAL.replace(b"Shall we?", "Grüße".encode())
    eight = build([FAILED], original=original)
    seven = build([FAILED])
    assert parsed(eight)["Content-Transfer-Encoding"] == "8bit"
    assert (eight.eight_bit, seven.eight_bit) == (True, False)
    assert parsed(seven)["Content-Transfer-Encoding"] is None
    assert not seven.smtputf8
    assert build([FAILED], reverse_path="<jörg@example.de>").smtputf8


@pytest.mark.parametrize(
    "original",
    [
        b"X-Long: " + b"z" * 1200 + b"\r\n\r\nbody\r\n",  # a header line over 998 octets
        b"\r\nno header section at all\r\n",
    ],
)
def test_nothing_returned_when_not_even_the_headers_can_be(original: bytes) -> None:
    dsn = build([FAILED], original=original, ret="HDRS")
    assert dsn.returned == "none"
    assert [p.get_content_type() for p in parts_of(dsn)] == [
        "text/plain",
        "message/delivery-status",
    ]
    assert "headers cannot be returned" in human_text(dsn)


@pytest.mark.parametrize("name", ["", "mx example", "mx.example.net\r\nBcc: x@y", "-mx"])
def test_reporter_must_be_a_host_name(name: str) -> None:
    with pytest.raises(ValueError):
        Reporter(name)


def test_a_folded_message_id_is_still_referenced() -> None:
    original = b"From: a@example.com\r\nMessage-ID:\r\n <folded-9@example.com>\r\n\r\nhi\r\n"
    assert parsed(build([FAILED], original=original))["In-Reply-To"] == "<folded-9@example.com>"


def test_our_own_diagnostic_is_not_put_in_a_servers_mouth() -> None:
    text = human_text(build([DELAYED]))
    assert "The server said" not in text
    assert "    connection timed out" in text
    assert "The server mx.example.net said: 550 5.1.1" in human_text(build([FAILED]))


STATUS_FOR = {
    DsnAction.FAILED: "5.1.1",
    DsnAction.DELAYED: "4.4.7",
    DsnAction.DELIVERED: "2.0.0",
    DsnAction.RELAYED: "2.1.5",
    DsnAction.EXPANDED: "2.0.0",
}
OUTCOMES = st.builds(
    lambda local, action, notify: RecipientOutcome(
        f"{local}@example.net", action, STATUS_FOR[action], notify=notify
    ),
    st.from_regex(r"[a-z0-9.+_-]{1,20}", fullmatch=True),
    st.sampled_from(list(DsnAction)),
    st.sampled_from(
        [(), ("NEVER",), ("FAILURE",), ("DELAY",), ("SUCCESS",), ("SUCCESS", "FAILURE", "DELAY")]
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OUTCOMES, min_size=1, max_size=8))
def test_round_trip_reports_exactly_what_notify_asked_for(
    outcomes: list[RecipientOutcome],
) -> None:
    wanted = [o for o in outcomes if dsn_requested(o.action, o.notify)]
    result = build_dsn(ORIGINAL, OriginalEnvelope("a@example.com"), outcomes, REPORTER, now=NOW)
    if not wanted:
        assert result == NoDsn(NoDsnReason.NOT_REQUESTED)
        return
    assert isinstance(result, Dsn)
    report = parse_report(result.message)
    assert isinstance(report, DeliveryReport)
    assert [(r.final_recipient, r.action, r.status) for r in report.recipients] == [
        (o.final_recipient, o.action, o.status) for o in wanted
    ]


def test_our_own_failure_is_explained_by_its_status() -> None:
    null_mx = RecipientOutcome(
        "x@nullmx.example",
        DsnAction.FAILED,
        "5.1.10",
        diagnostic="x-mairust; the domain publishes a null MX",
    )
    text = " ".join(human_text(build([null_mx])).split())
    assert "the recipient's domain does not exist or accepts no mail (5.1.10)" in text
