"""Matching reports to our outbound messages, and what each may change (pure: rows in,
effects out; the pipeline stage's tests run it on real stores)."""

from __future__ import annotations

from datetime import UTC, datetime

from mairust.model.ids import new_id
from mairust.model.message import MessageRef
from mairust.model.outbound import OutboundItem, RecipientState
from mairust.model.suppression import SuppressionReason
from mairust.outbound.dsn_fields import DsnAction
from mairust.outbound.report_intake import (
    complaint_effects,
    dsn_effects,
    original_ids,
)
from mairust.outbound.report_parsing import ComplaintReport, DeliveryReport, ReportedRecipient

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ORIGINAL = new_id()


def row(
    recipient: str, state: RecipientState = RecipientState.DELIVERED, n: int = 1
) -> OutboundItem:
    return OutboundItem(
        id=n,
        message=MessageRef(id=ORIGINAL, size=1, sha256="x", blob_key="b"),
        mail_from="ann@a.example",
        recipient=recipient,
        destination="far.test",
        state=state,
        attempts=1,
        next_attempt_at=NOW,
        created_at=NOW,
        tenant_id="tenant-a",
    )


def complaint(*rcpts: str, kind: str = "abuse") -> ComplaintReport:
    return ComplaintReport(feedback_type=kind, original_rcpt_to=rcpts)


def test_the_original_is_named_by_our_trace_ids_and_our_message_ids_only():
    own = new_id()
    raw = (
        f"Received: from mx.far.test\r\n\tby mx.a.example (MaiRust) with ESMTP id {own};\r\n"
        "\tMon, 30 Nov 2026\r\n\r\n"
        "Received: from api ([192.0.2.7])\r\n"
        f"\tby mx.a.example (MaiRust) with HTTP id {ORIGINAL};\r\n"
        "Received: by mx.far.test (Postfix) with ESMTPS id 3F9A11C0A8E;\r\n"
    ).encode()
    report = complaint()
    assert original_ids(report, raw, own) == (ORIGINAL,)
    other = new_id()
    by_message_id = ComplaintReport("abuse", original_message_id=f"<{other}@a.example>")
    assert original_ids(by_message_id, b"", own) == (other,)
    # A Message-ID somebody else wrote names nothing of ours.
    foreign = ComplaintReport("abuse", original_message_id="<q3-numbers-7f3a@example.com>")
    assert original_ids(foreign, b"(MaiRust) with HTTP id not-an-id", own) == ()


def test_a_complaint_names_its_recipient_or_the_messages_only_one():
    [named] = complaint_effects(
        complaint("Joe@Far.test"), [row("joe@far.test"), row("kim@far.test", n=2)], "tenant-a", NOW
    ).complaint_suppressions
    assert (named.tenant_id, named.address, named.reason) == (
        "tenant-a",
        "joe@far.test",
        SuppressionReason.COMPLAINT,
    )
    redacted = complaint()
    assert (
        len(
            complaint_effects(
                redacted, [row("joe@far.test")], "tenant-a", NOW
            ).complaint_suppressions
        )
        == 1
    )
    two = [row("joe@far.test"), row("kim@far.test", n=2)]
    assert complaint_effects(redacted, two, "tenant-a", NOW).empty
    # Not one of the message's recipients, not a complaint, or not this tenant's mailbox.
    assert complaint_effects(complaint("eve@far.test"), two, "tenant-a", NOW).empty
    assert complaint_effects(complaint("joe@far.test", kind="not-spam"), two, "tenant-a", NOW).empty
    assert complaint_effects(complaint("joe@far.test"), two, "tenant-b", NOW).empty


def test_a_dsn_counts_only_failures_of_delivered_rows_reported_to_the_reverse_path():
    def failed(address: str, action: DsnAction = DsnAction.FAILED) -> ReportedRecipient:
        return ReportedRecipient(address, action, "5.1.1", diagnostic="550 5.1.1 no such user")

    rows = [row("joe@far.test"), row("kim@far.test", RecipientState.DEFERRED, n=2)]
    report = DeliveryReport(
        (failed("joe@far.test"), failed("kim@far.test"), failed("joe@far.test", DsnAction.DELAYED)),
        reporting_mta="mx.far.test",
    )
    effects = dsn_effects(report, rows, "ANN@a.example", NOW)
    [bounce] = effects.bounced
    assert (bounce.recipient_id, bounce.bounce_class, bounce.host) == (
        1,
        "unknown_user",
        "mx.far.test",
    )
    [dead] = effects.bounce_suppressions
    assert (dead.address, dead.reason) == ("joe@far.test", SuppressionReason.HARD_BOUNCE)
    assert dsn_effects(report, rows, "bob@a.example", NOW).empty
