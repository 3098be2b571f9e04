"""The delivery loop's bounce hooks: DsnNotices (its BounceNotices) and
classify_remote_reply (its BounceClassifier), over real rows and replies."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import Message

from mairust.model.message import MessageRef
from mairust.model.outbound import OutboundItem, RecipientState
from mairust.outbound.bounce_notices import DsnNotices, classify_remote_reply, outcome_of
from mairust.outbound.delivery import BounceClassifier, BounceNotices, RemoteReply
from mairust.outbound.dsn_fields import DsnAction
from mairust.outbound.report_parsing import DeliveryReport, parse_report

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ORIGINAL = (
    b"From: alice@example.com\r\nTo: bob@example.net\r\nSubject: hi\r\n"
    b"Message-ID: <hi-1@example.com>\r\n\r\nhello\r\n"
)
REF = MessageRef(id="m1", size=len(ORIGINAL), sha256="0" * 64, blob_key="m1")


def item(recipient: str, **fields: object) -> OutboundItem:
    values: dict[str, object] = {
        "id": 1,
        "message": REF,
        "mail_from": "alice@example.com",
        "recipient": recipient,
        "destination": recipient.rpartition("@")[2],
        "state": RecipientState.LEASED,
        "attempts": 3,
        "next_attempt_at": NOW,
        "created_at": NOW - timedelta(days=4),
    }
    values.update(fields)
    return OutboundItem(**values)  # type: ignore[arg-type]


def status_blocks(raw: bytes) -> list[Message]:
    message = email.message_from_bytes(raw, policy=policy.compat32)
    parts = message.get_payload()
    assert isinstance(parts, list) and isinstance(parts[1], Message)
    blocks = parts[1].get_payload()
    assert isinstance(blocks, list)
    return [block for block in blocks if isinstance(block, Message)]


def test_one_dsn_for_a_message_s_bounced_rows() -> None:
    notices = DsnNotices("mx.mairust.test")
    bounced = [
        (
            item("bob@example.net", orcpt="rfc822;Bob@example.net", envid="E-7", ret="HDRS"),
            RemoteReply(550, "5.1.1", "user unknown", host="mx.example.net"),
            False,
        ),
        (
            item("carol@example.org", id=2),
            RemoteReply(451, "4.4.1", "connection timed out"),
            True,
        ),
    ]
    raw = notices.notice(ORIGINAL, bounced, NOW)
    assert raw is not None
    report = parse_report(raw)
    assert isinstance(report, DeliveryReport)
    assert report.original_envelope_id == "E-7"
    assert report.original_message_id == "<hi-1@example.com>"
    got = [
        (r.final_recipient, r.original_recipient, r.action, r.status, r.diagnostic_type)
        for r in report.recipients
    ]
    assert got == [
        ("bob@example.net", "Bob@example.net", DsnAction.FAILED, "5.1.1", "smtp"),
        # Expired: failed, keeping the 4.x.x it kept getting; our own words, no server's.
        ("carol@example.org", None, DsnAction.FAILED, "4.4.1", "x-mairust"),
    ]
    per_message = status_blocks(raw)[0]
    assert per_message["Arrival-Date"] == "Mon, 30 Nov 2026 12:00:00 +0000"


def test_no_dsn_when_none_is_owed() -> None:
    notices = DsnNotices("mx.mairust.test")
    reply = RemoteReply(550, "5.1.1", "user unknown", host="mx.example.net")
    never = [(item("bob@example.net", notify=("NEVER",)), reply, False)]
    null_sender = [(item("bob@example.net", mail_from=""), reply, False)]
    success_only = [(item("bob@example.net", notify=("SUCCESS",)), reply, False)]
    assert notices.notice(ORIGINAL, never, NOW) is None
    assert notices.notice(ORIGINAL, null_sender, NOW) is None
    assert notices.notice(ORIGINAL, success_only, NOW) is None
    assert notices.notice(ORIGINAL, [], NOW) is None


def test_status_when_the_reply_has_none_or_a_wrong_one() -> None:
    row = item("bob@example.net")
    bare = outcome_of(row, RemoteReply(554, None, "Transaction failed", host="mx"), False, NOW)
    expired = outcome_of(row, RemoteReply(421, None, "try later", host="mx"), True, NOW)
    in_text = outcome_of(row, RemoteReply(550, None, "5.7.26 unauthenticated"), False, NOW)
    contradictory = outcome_of(row, RemoteReply(550, "4.2.2", "full", host="mx"), False, NOW)
    assert (bare.status, expired.status, in_text.status) == ("5.0.0", "4.4.7", "5.7.26")
    assert contradictory.status == "5.0.0"
    assert bare.diagnostic == "smtp; 554 Transaction failed"


def test_classifier_gives_the_stored_class() -> None:
    unknown = RemoteReply(550, "5.1.1", "user unknown", host="mx.example.net")
    blocked = RemoteReply(554, "5.7.1", "Client host blocked using zen.spamhaus.org")
    assert classify_remote_reply(unknown) == "unknown_user"
    assert classify_remote_reply(blocked) == "reputation"
    assert classify_remote_reply(RemoteReply(451, "4.4.1", "connection refused")) == "network"
    assert classify_remote_reply(RemoteReply(250, "2.0.0", "ok", host="mx")) is None


def test_they_fit_the_delivery_loop_s_hooks() -> None:
    # Checked by mypy: the structural types the loop's constructor takes.
    notices: BounceNotices = DsnNotices("mx.mairust.test")
    classify: BounceClassifier = classify_remote_reply
    reply = RemoteReply(550, "5.1.1", "user unknown", host="mx.example.net")
    assert notices.notice(ORIGINAL, [(item("bob@example.net"), reply, False)], NOW)
    assert classify(reply) == "unknown_user"


def test_a_delay_dsn_says_delayed_with_a_4xx_status_and_until_when() -> None:
    notices = DsnNotices("mx.mairust.test")
    until = NOW + timedelta(days=1)
    delayed = [
        (
            item("bob@example.net", orcpt="rfc822;Bob@example.net", envid="E-8", ret="HDRS"),
            RemoteReply(451, "4.2.0", "mailbox busy", host="mx.example.net"),
            until,
        ),
        (item("carol@example.org", id=2), RemoteReply(421, None, "dns failure"), until),
    ]
    raw = notices.delay_notice(ORIGINAL, delayed, NOW)
    assert raw is not None and b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")

    report = parse_report(raw)
    assert isinstance(report, DeliveryReport)
    assert report.original_envelope_id == "E-8"
    assert report.original_message_id == "<hi-1@example.com>"
    got = [
        (r.final_recipient, r.action, r.status, r.diagnostic_type, r.will_retry_until)
        for r in report.recipients
    ]
    assert got == [
        ("bob@example.net", DsnAction.DELAYED, "4.2.0", "smtp", until),
        ("carol@example.org", DsnAction.DELAYED, "4.0.0", "x-mairust", until),
    ]
    # The same, read by Python's own parser: headers returned (RET=HDRS), nothing more.
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Delayed Mail (still being retried)"
    assert message["To"].addresses[0].addr_spec == "alice@example.com"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    [bob, _] = status_blocks(raw)[1:]
    assert (bob["Action"], bob["Status"]) == ("delayed", "4.2.0")
    assert bob["Will-Retry-Until"] == "Sat, 05 Dec 2026 12:00:00 +0000"
    text = next(message.iter_parts()).get_content()
    assert "not been delivered to <bob@example.net> yet" in text
    assert "We will keep trying until Sat, 05 Dec 2026 12:00:00 +0000" in text


def test_a_delay_dsn_returns_the_full_original_on_ret_full_and_none_to_a_null_sender() -> None:
    notices = DsnNotices("mx.mairust.test")
    reply = RemoteReply(451, "4.2.0", "busy", host="mx.example.net")
    full = notices.delay_notice(ORIGINAL, [(item("bob@example.net", ret="FULL"), reply, NOW)], NOW)
    assert full is not None
    message = email.message_from_bytes(full, policy=policy.default)
    returned = list(message.iter_parts())[2]
    assert returned.get_content_type() == "message/rfc822"
    assert b"hello" in returned.as_bytes()
    null_sender = [(item("bob@example.net", mail_from=""), reply, NOW)]
    assert notices.delay_notice(ORIGINAL, null_sender, NOW) is None
    assert notices.delay_notice(ORIGINAL, [], NOW) is None
