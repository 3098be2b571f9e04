"""Log records as JSON lines with the message id and its trace id, or as text."""

from __future__ import annotations

import json
import logging

import pytest

from mairust import events
from mairust.log_format import (
    JsonFormatter,
    configure_logging,
    message_context,
    trace_id_for,
)
from mairust.model.ids import new_id


def test_the_trace_id_is_the_message_ids_128_bits_in_hex():
    message_id = new_id(now_ms=0x0123456789AB)
    trace_id = trace_id_for(message_id)
    assert trace_id is not None and len(trace_id) == 32
    assert trace_id.startswith("0123456789ab")  # the id's milliseconds come first
    assert trace_id_for(message_id.lower()) == trace_id
    assert trace_id_for(new_id()) != trace_id


@pytest.mark.parametrize("not_an_id", ["", "abc", "<x@y>", "U" * 26, "0" * 26])
def test_other_strings_have_no_trace_id(not_an_id):
    assert trace_id_for(not_an_id) is None


def formatted(record: logging.LogRecord) -> dict[str, object]:
    document: dict[str, object] = json.loads(JsonFormatter().format(record))
    return document


def record(msg: str, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": msg, **extra})


def test_a_record_names_its_message_by_extra_by_delivery_fields_or_by_context():
    message_id = new_id()
    by_extra = formatted(record("x", message_id=message_id))
    assert by_extra["message_id"] == message_id
    assert by_extra["trace_id"] == trace_id_for(message_id)
    by_fields = formatted(record("Delivery", fields={"message_id": message_id, "n": 1}))
    assert by_fields["trace_id"] == trace_id_for(message_id)
    assert by_fields["fields"] == {"message_id": message_id, "n": 1}
    with message_context(message_id):
        in_context = formatted(record("hooks answered"))
    assert in_context["message_id"] == message_id
    assert "message_id" not in formatted(record("no message"))


def test_json_logging_writes_one_object_a_line(capsys):
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("info", "json")
        message_id = new_id()
        events.record(events.RecordType.RECEPTION, message_id=message_id, recipient="a@b.c")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("mairust.test").exception("failed")
        lines = capsys.readouterr().err.strip().splitlines()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    reception, failure = (json.loads(line) for line in lines[-2:])
    assert reception["logger"] == "mairust.events"
    assert reception["record_type"] == "Reception"
    assert reception["trace_id"] == trace_id_for(message_id)
    assert failure["level"] == "ERROR"
    assert "ValueError: boom" in failure["exception"]


def test_text_logging_keeps_the_readable_line(capsys):
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("WARNING")
        logging.getLogger("mairust.test").warning("disk %d%% full", 91)
        err = capsys.readouterr().err
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "WARNING mairust.test: disk 91% full" in err
