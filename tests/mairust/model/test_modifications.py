"""Declarative modifications: header edits on the raw header block (folded fields whole,
the body untouched), envelope edits, and no way to inject a header."""

from __future__ import annotations

import pytest

from mairust.errors import InvalidInput
from mairust.model.modifications import (
    AddHeader,
    AddRecipient,
    ChangeEnvelopeFrom,
    ChangeHeader,
    DeleteHeader,
    DeleteRecipient,
    apply_to_envelope,
    apply_to_headers,
)

MESSAGE = (
    b"Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"Subject: hello\r\n"
    b"X-Spam: first\r\n"
    b"To: x@example.test\r\n"
    b"X-Spam: second\r\n"
    b"\r\n"
    b"X-Spam: not a header, the body\r\n"
)
BODY = b"X-Spam: not a header, the body\r\n"


def headers_of(message: bytes) -> bytes:
    return message.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def test_header_edits_apply_in_order_and_leave_the_body_alone() -> None:
    edited = apply_to_headers(
        MESSAGE,
        [
            AddHeader("X-Score", "4.2"),
            ChangeHeader("x-spam", "changed", occurrence=2),
            DeleteHeader("Received"),
            ChangeHeader("X-Missing", "added"),
        ],
    )
    assert headers_of(edited) == (
        b"Subject: hello\r\n"
        b"X-Spam: first\r\n"
        b"To: x@example.test\r\n"
        b"X-Spam: changed\r\n"
        b"X-Score: 4.2\r\n"
        b"X-Missing: added\r\n"
    )
    assert edited.endswith(b"\r\n\r\n" + BODY)


def test_delete_one_occurrence_or_all() -> None:
    one = apply_to_headers(MESSAGE, [DeleteHeader("X-Spam", occurrence=1)])
    assert b"X-Spam: first" not in headers_of(one) and b"X-Spam: second" in headers_of(one)
    every = apply_to_headers(MESSAGE, [DeleteHeader("X-SPAM")])
    assert b"X-Spam" not in headers_of(every) and every.endswith(BODY)
    assert apply_to_headers(MESSAGE, [DeleteHeader("X-Spam", occurrence=3)]) == MESSAGE
    assert apply_to_headers(MESSAGE, []) is MESSAGE


def test_a_message_without_a_body_gets_its_headers_edited() -> None:
    assert apply_to_headers(b"Subject: a\r\n", [AddHeader("X-A", "1")]) == (
        b"Subject: a\r\nX-A: 1\r\n"
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: AddHeader("X-A", "ok\r\nBcc: victim@example.test"),
        lambda: AddHeader("X-A", "nul\x00"),
        lambda: AddHeader("X A", "space in the name"),
        lambda: AddHeader("X:A", "colon in the name"),
        lambda: AddHeader("", "no name"),
        lambda: ChangeHeader("Subject", "x", occurrence=0),
        lambda: DeleteHeader("Subject", occurrence=0),
        lambda: AddHeader("X-A", "x" * 4001),
    ],
)
def test_no_header_can_be_injected_or_malformed(make) -> None:
    with pytest.raises(InvalidInput):
        make()


def test_envelope_edits() -> None:
    sender, recipients = apply_to_envelope(
        "a@example.test",
        ("x@example.test", "y@example.test"),
        [
            ChangeEnvelopeFrom("bounces@example.test"),
            AddRecipient("z@example.test"),
            AddRecipient("x@example.test"),  # already there: once
            DeleteRecipient("y@example.test"),
            DeleteRecipient("never@example.test"),
            AddHeader("X-Not-Envelope", "ignored here"),
        ],
    )
    assert sender == "bounces@example.test"
    assert recipients == ("x@example.test", "z@example.test")
