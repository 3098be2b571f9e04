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
    ]
