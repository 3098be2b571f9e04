"""The bytes the SMTP edge writes into a message: our ``Received:`` trace header and CRLF
line endings (DESIGN invariant 6)."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime

from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
# What may appear of a client's HELO name inside our Received: comment structure.
_UNSAFE_HELO_CHAR = re.compile(r"[^\x21-\x7e]|[()\\]")


def with_protocol(session: Session, envelope: SmtpEnvelope) -> str:
    """The Received: ``with`` keyword (RFC 3848, RFC 6531 for UTF8SMTP)."""
    if not session.extended_smtp:
        return "SMTP"
    name = "UTF8SMTP" if envelope.smtp_utf8 else "ESMTP"
    if session.ssl is not None:
        name += "S"
    if session.authenticated:
        name += "A"
    return name


def normalize_line_endings(data: bytes) -> bytes:
    """``data`` with every bare LF and bare CR turned into CRLF (DESIGN invariant 6)."""
    crlf = data.count(b"\r\n")
    if data.count(b"\r") == crlf and data.count(b"\n") == crlf:
        return data  # the usual case: nothing to rewrite, no copy made
    return _LINE_BREAK.sub(b"\r\n", data)


def received_header(
    *,
    helo: str,
    client_ip: str,
    hostname: str,
    protocol: str,
    message_id: str,
    recipients: tuple[str, ...],
    received_at: datetime,
) -> bytes:
    """Our trace header (RFC 5321 §4.4), folded, ending in CRLF."""
    literal = f"IPv6:{client_ip}" if ":" in client_ip else client_ip
    helo_text = _UNSAFE_HELO_CHAR.sub("?", helo)[:255] or "unknown"
    date = email.utils.format_datetime(received_at)
    lines = [
        f"Received: from {helo_text} ([{literal}])",
        f"\tby {hostname} (MaiRust) with {protocol} id {message_id}",
    ]
    # Only a single recipient is named: listing several would disclose the Bcc's.
    if len(recipients) == 1:
        lines.append(f"\tfor <{recipients[0]}>; {date}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{date}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
