from __future__ import annotations

import logging

from mairust import events
from mairust.events import RecordType


def test_records_are_logged_with_structured_fields(caplog):
    with caplog.at_level(logging.INFO, logger="mairust.events"):
        events.record(RecordType.DELIVERY, message_id="m1", recipient="a@b.example")
    [entry] = caplog.records
    assert entry.getMessage() == "Delivery message_id=m1 recipient=a@b.example"
    assert entry.record_type == "Delivery"
    assert entry.fields == {"message_id": "m1", "recipient": "a@b.example"}


def test_the_vocabulary_is_closed():
    assert [r.value for r in RecordType] == [
        "Reception",
        "Rejection",
        "Delivery",
        "TransientFailure",
        "Bounce",
        "Expiration",
        "Discard",
        "QuarantineReleased",
    ]


def test_every_record_type_has_one_webhook_type():
    assert set(events.WEBHOOK_TYPES) == set(RecordType)
    assert sorted(events.WEBHOOK_TYPES.values()) == sorted(events.WebhookType)
    assert {t.value for t in events.WebhookType} == events.WEBHOOK_EVENT_TYPES


def test_an_event_says_what_a_webhook_receiver_sees():
    from datetime import UTC, datetime

    event = events.Event(
        "e1",
        "t1",
        RecordType.REJECTION,
        datetime(2026, 3, 1, tzinfo=UTC),
        recipient="x@a.example",
        reply="550 5.1.1 unknown",
        detail={"stage": "RCPT"},
    )
    assert event.webhook_type == "message.rejected"
    assert event.webhook_data() == {
        "event_id": "e1",
        "record": "Rejection",
        "recipient": "x@a.example",
        "reply": "550 5.1.1 unknown",
        "detail": {"stage": "RCPT"},
    }
