from __future__ import annotations

import email
from datetime import UTC, datetime
from email.policy import default

from mairust.outbound.submission_fields import completed_submission

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_missing_date_and_message_id_are_added_at_the_end_of_the_header() -> None:
    message = b"From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n"
    completed = completed_submission(message, NOW, "mx.example.test")
    head, body = completed.split(b"\r\n\r\n", 1)
    assert body == b"body\r\n"
    lines = head.split(b"\r\n")
    assert lines[:2] == [b"From: a@example.test", b"Subject: hi"]
    parsed = email.message_from_bytes(completed, policy=default)
    assert parsed["Date"].datetime == NOW
    assert parsed["Message-ID"].startswith("<") and parsed["Message-ID"].endswith(
        "@mx.example.test>"
    )


def test_fields_present_in_any_case_or_folded_are_left_alone() -> None:
    message = (
        b"DATE: Mon, 30 Nov 2026 12:00:00 +0000\r\nmessage-id:\r\n <x@example.test>\r\n"
        b"Subject: hi\r\n\r\nbody\r\n"
    )
    assert completed_submission(message, NOW, "mx.example.test") is message


def test_a_name_in_a_folded_line_or_the_body_does_not_count() -> None:
    message = b"Subject: hi\r\n Date: not a field\r\n\r\nDate: in the body\r\n"
    completed = completed_submission(message, NOW, "h.test")
    head = completed.split(b"\r\n\r\n", 1)[0]
    assert head.count(b"\r\nDate: ") == 1 and b"Message-ID: <" in head


def test_a_message_without_a_body_gets_them_appended() -> None:
    completed = completed_submission(b"Subject: hi\r\n", NOW, "h.test")
    assert completed.startswith(b"Subject: hi\r\nDate: ")
    assert completed.endswith(b"@h.test>\r\n")
