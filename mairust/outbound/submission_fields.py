"""The header fields a message submission agent adds when the submitter left them out
(RFC 6409 §8.3 ``Date:`` and §8.4 ``Message-ID:``), before the message is signed.

They must be there before DKIM signs: our signer oversigns ``Date`` and ``Message-ID``
(lists them once more than present, so nobody can add one), and the next MTA that adds a
missing ``Date:`` — Postfix does for its local clients — would break the signature.
"""

from __future__ import annotations

import email.utils
from datetime import datetime

_HEADER_END = b"\r\n\r\n"
_MAX_HEADER_SCAN = 256 * 1024


def completed_submission(message: bytes, now: datetime, hostname: str) -> bytes:
    """``message`` (CRLF) with ``Date:`` and ``Message-ID:`` added at the end of its header
    when absent (``Message-ID`` made under ``hostname``); unchanged when both are there."""
    end = message.find(_HEADER_END, 0, _MAX_HEADER_SCAN)
    head = message if end < 0 else message[:end]
    present = _field_names(head)
    added = b""
    if b"date" not in present:
        added += b"Date: " + email.utils.format_datetime(now).encode() + b"\r\n"
    if b"message-id" not in present:
        added += b"Message-ID: " + email.utils.make_msgid(domain=hostname).encode() + b"\r\n"
    if not added:
        return message
    if end < 0:  # no body: the whole message is its header (RFC 5322 §3.5 allows it)
        separator = b"" if message.endswith(b"\r\n") or not message else b"\r\n"
        return message + separator + added
    return message[: end + 2] + added + message[end + 2 :]


def _field_names(head: bytes) -> set[bytes]:
    names = set()
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # a folded line continues the field above
        name, colon, _ = line.partition(b":")
        if colon:
            names.add(name.strip().lower())
    return names
