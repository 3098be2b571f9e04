"""Stage ``reports`` through the whole pipeline on real stores: a DSN about a message of
ours that a remote MTA took bounces those recipients (and suppresses the dead address), an
ARF complaint suppresses the complained-about recipient; the reports still reach their
mailboxes, tagged; an unrelated report, a report to the wrong mailbox, and the same report
a second time change nothing; an unreachable store defers the report, a bug of ours
delays nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mairust.errors import StorageUnavailable
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import (
    AttemptOutcome,
    AttemptResult,
    DeliveryAttempt,
    RecipientState,
    RemoteRecipient,
)
from mairust.model.parsing import parse_message
from mairust.model.scope import PLATFORM
from mairust.model.suppression import SuppressionReason
from mairust.pipeline.runner import PipelineRunner
from mairust.pipeline.stages.reports import ReportsStage
from mairust.pipeline.work import BatchContext, Deferred, MessageWork, RecipientWork
from mairust.storage.stores import Stores

DATA = Path(__file__).parents[3] / "data" / "dsn"
SENDER = "alice@example.test"


def tenant_of(stores: Stores, domain: str = "example.test") -> str:
    found = stores.metadata.get_domain(domain)
    assert found is not None
    return found.tenant_id


def sent(stores: Stores, *recipients: str, deliver: bool = True) -> str:
    """An outbound message of ours from SENDER, each recipient taken by the remote (250)."""
    info = stores.blobs.put(b"Subject: out\r\n\r\nhello\r\n")
    ref = MessageRef(id=new_id(), size=info.size, sha256=info.sha256, blob_key=info.key)
    tenant = tenant_of(stores)
    envelope = Envelope(mail_from=SENDER, rcpt_tos=recipients, received_at=datetime.now(UTC))
    remote = tuple(RemoteRecipient(address, tenant) for address in recipients)
    stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope, remote=remote)])
    if deliver:
        now = datetime.now(UTC)
        leased = stores.metadata.lease_outbound("loop/1", 100, 60, now)
        done = [
            AttemptOutcome(
                DeliveryAttempt(
                    i.id, i.message.id, i.recipient, now, AttemptResult.DELIVERED, "250 ok"
                )
            )
            for i in leased
        ]
        assert stores.metadata.settle_outbound("loop/1", now, delivered=done) == len(recipients)
    return ref.id


def received(stores: Stores, settings, body: bytes, rcpt: str) -> str:
    """``body`` accepted for ``rcpt`` (with our own trace line on top, as the SMTP edge
    writes it) and run through the pipeline; the new message's id."""
    report_id = new_id()
    trace = (
        "Received: from mx.example.org\r\n"
        f"\tby mx.example.test (MaiRust) with ESMTP id {report_id};\r\n"
        "\tMon, 30 Nov 2026 10:16:00 +0000\r\n"
    )
    raw = trace.encode() + body
    info = stores.blobs.put(raw)
    ref = MessageRef(id=report_id, size=info.size, sha256=info.sha256, blob_key=info.key)
    envelope = Envelope(mail_from="", rcpt_tos=(rcpt,), received_at=datetime.now(UTC))
    stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
    items = stores.metadata.lease_batch("w1", 100, 60)
    assert PipelineRunner(stores, settings.queue).process(items, "w1").delivered == 1
    return report_id


def bounce_of(original: str) -> bytes:
    """The Postfix-style bounce of tests/data, returning our message: its headers carry our
    trace line (as every message submitted here does)."""
    text = (DATA / "postfix-bounce.eml").read_text()
    ours = (
        "Return-Path: <sender@example.com>\n"
        "Received: from api ([192.0.2.7])\n"
        f"\tby mx.example.test (MaiRust) with HTTP id {original};\n"
        "\tMon, 30 Nov 2026 10:15:01 +0000\n"
    )
    return text.replace("Return-Path: <sender@example.com>\n", ours).encode()


def complaint_about(original: str) -> bytes:
    """The Yahoo-style ARF of tests/data about a message the send API wrote (its
    Message-ID is ``<queue id@domain>``)."""
    text = (DATA / "yahoo-style-arf.eml").read_text()
    return text.replace(
        "<weekly-2026-48.reader@example.com>", f"<{original}@example.test>"
    ).encode()


def tags_of(stores: Stores, message_id: str) -> list[tuple[str, ...]]:
    return [e.tags for e in stores.metadata.list_entries(PLATFORM) if e.message_id == message_id]


def states(stores: Stores, message_id: str) -> dict[str, tuple[RecipientState, str | None]]:
    return {
        row.recipient: (row.state, row.bounce_class)
        for row in stores.metadata.list_outbound(message_id=message_id)
    }


def test_a_dsn_after_delivery_bounces_those_recipients_and_suppresses_the_dead_one(
    stores, settings
):
    original = sent(stores, "nobody@example.net", "full@example.net", "fine@example.net")
    report = received(stores, settings, bounce_of(original), SENDER)

    assert states(stores, original) == {
        "nobody@example.net": (RecipientState.BOUNCED, "unknown_user"),
        "full@example.net": (RecipientState.BOUNCED, "mailbox_full"),
        "fine@example.net": (RecipientState.DELIVERED, None),
    }
    bounced = [
        a for a in stores.metadata.outbound_attempts(original) if a.result is AttemptResult.BOUNCED
    ]
    assert sorted((a.recipient, a.host, a.reply[:9]) for a in bounced) == [
        ("full@example.net", "mx1.example.net", "552 5.2.2"),
        ("nobody@example.net", "mx1.example.net", "550 5.1.1"),
    ]
    # Only the dead address is suppressed: a full mailbox may take mail tomorrow.
    [entry] = stores.metadata.list_suppressions(tenant_of(stores))
    assert (entry.address, entry.reason) == ("nobody@example.net", SuppressionReason.HARD_BOUNCE)
    assert "mx.example.org" in entry.detail
    # The report is mail: it is in the sender's mailbox, tagged.
    assert tags_of(stores, report) == [("report:dsn",)]

    # The same report again (a duplicate delivery): nothing more changes.
    attempts = stores.metadata.outbound_attempts(original)
    again = received(stores, settings, bounce_of(original), SENDER)
    assert stores.metadata.outbound_attempts(original) == attempts
    assert len(stores.metadata.list_suppressions(tenant_of(stores))) == 1
    assert tags_of(stores, again) == [("report:dsn",)]


def test_an_arf_complaint_suppresses_the_recipient_in_the_originals_tenant(stores, settings):
    original = sent(stores, "reader@example-mailbox.net")
    other = stores.metadata.create_tenant("other")
    stores.metadata.add_domain("other.test", other.id)
    stores.metadata.add_mailbox("fbl@other.test")

    # A complaint reaching another tenant's mailbox is delivered, and trusted for nothing.
    received(stores, settings, complaint_about(original), "fbl@other.test")
    assert stores.metadata.list_suppressions(None) == []

    report = received(stores, settings, complaint_about(original), "bob@example.test")
    [entry] = stores.metadata.list_suppressions(None)
    assert (entry.tenant_id, entry.address, entry.reason) == (
        tenant_of(stores),
        "reader@example-mailbox.net",
        SuppressionReason.COMPLAINT,
    )
    assert tags_of(stores, report) == [("report:complaint",)]
    # A complaint is no bounce: the delivery stands.
    assert states(stores, original) == {
        "reader@example-mailbox.net": (RecipientState.DELIVERED, None)
    }
    received(stores, settings, complaint_about(original), "bob@example.test")
    assert stores.metadata.list_suppressions(None) == [entry]


def test_reports_about_nothing_of_ours_or_to_the_wrong_mailbox_change_nothing(stores, settings):
    original = sent(stores, "nobody@example.net", "full@example.net")
    pending = sent(stores, "later@example.net", deliver=False)
    before = (states(stores, original), states(stores, pending))

    for name in ("postfix-bounce.eml", "rfc5965-arf.eml", "exchange-online-ndr.eml"):
        unrelated = received(stores, settings, (DATA / name).read_bytes(), SENDER)
        assert tags_of(stores, unrelated)[0][0].startswith("report:")
    # A DSN is trusted only when it comes back to the original's reverse path.
    received(stores, settings, bounce_of(original), "bob@example.test")
    # And a recipient the delivery loop has not finished with is left to it.
    received(stores, settings, bounce_of(pending).replace(b"nobody@", b"later@"), SENDER)
    plain = received(stores, settings, b"Subject: hi\r\n\r\njust mail\r\n", SENDER)

    assert (states(stores, original), states(stores, pending)) == before
    assert stores.metadata.list_suppressions(None) == []
    assert all(
        a.result is AttemptResult.DELIVERED for a in stores.metadata.outbound_attempts(original)
    )
    assert tags_of(stores, plain) == [()]


class Unreachable:
    """A metadata store whose outbound queue cannot be reached (everything else works)."""

    def __init__(self, metadata: Any) -> None:
        self._metadata = metadata

    def __getattr__(self, name: str) -> Any:
        if name == "list_outbound":
            raise StorageUnavailable("the metadata store is unreachable")
        return getattr(self._metadata, name)


def test_a_store_that_cannot_be_reached_defers_the_report_and_a_bug_delays_nothing(
    stores, settings
):
    original = sent(stores, "nobody@example.net")
    info = stores.blobs.put(bounce_of(original))
    ref = MessageRef(id=new_id(), size=info.size, sha256=info.sha256, blob_key=info.key)
    envelope = Envelope(mail_from="", rcpt_tos=(SENDER,), received_at=datetime.now(UTC))
    stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
    [item] = stores.metadata.lease_batch("w1", 100, 60)
    raw = stores.blobs.get(ref.blob_key)

    def work() -> RecipientWork:
        return RecipientWork(item, MessageWork(ref, raw, parse_message(raw)))

    down = Stores(Unreachable(stores.metadata), stores.blobs, stores.search)
    ended = ReportsStage().run([work()], BatchContext(stores=down))
    assert isinstance(ended[item.id], Deferred)

    def broken_clock() -> datetime:
        raise RuntimeError("a bug of ours")

    tagged = work()
    assert ReportsStage(clock=broken_clock).run([tagged], BatchContext(stores=stores)) == {}
    assert tagged.item.annotations.tags == ("report:dsn",)
    assert states(stores, original) == {"nobody@example.net": (RecipientState.DELIVERED, None)}
