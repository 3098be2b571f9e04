"""Turn raw RFC 5322 bytes into the parts the pipeline and the API show.

Pure: bytes in, values out. Uses the standard library's ``email`` package with the
modern policy; malformed input never raises, it yields what could be read.
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser

_PARSER = BytesParser(policy=email.policy.default)


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    subject: str
    from_addr: str
    to_addrs: tuple[str, ...]
    date: datetime | None
    message_id: str
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: str | None
    attachments: tuple[AttachmentInfo, ...] = field(default=())

    @property
    def searchable_body(self) -> str:
        """The text a search index gets: the text part, else the HTML part."""
        return self.text or self.html or ""


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse ``raw``; headers that do not decode are kept as their raw text."""
    msg = _PARSER.parsebytes(raw)
    headers = tuple(_header_pair(msg, name, raw) for name, raw in msg.raw_items())
    text, html, attachments = _walk_parts(msg)
    return ParsedMessage(
        subject=_safe_header(msg, "Subject"),
        from_addr=_first_address(msg, "From"),
        to_addrs=_addresses(msg, "To") + _addresses(msg, "Cc"),
        date=_date(msg),
        message_id=_safe_header(msg, "Message-ID"),
        headers=headers,
        text=text,
        html=html,
        attachments=attachments,
    )


def _header_pair(msg: Message, name: str, raw: str) -> tuple[str, str]:
    """The header with encoded-words decoded; the raw text if it does not decode."""
    try:
        decoded = str(msg.policy.header_fetch_parse(name, raw))
    except Exception:  # a header the policy cannot parse: show it raw
        decoded = raw
    return name, " ".join(decoded.split())


def _safe_header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
        return "" if value is None else without_controls(" ".join(str(value).split()))
    except Exception:  # malformed encoded-words: an empty field beats a dropped message
        return ""


def without_controls(text: str) -> str:
    """``text`` without C0 control characters and DEL (a NUL cannot be stored everywhere)."""
    return "".join(c for c in text if ord(c) >= 32 and ord(c) != 127)


def _addresses(msg: Message, name: str) -> tuple[str, ...]:
    try:
        values = msg.get_all(name) or []
        pairs = email.utils.getaddresses([str(v) for v in values])
    except Exception:  # unparseable address list: nothing to show, nothing to fail
        return ()
    return tuple(without_controls(addr.lower()) for _, addr in pairs if "@" in addr)


def _first_address(msg: Message, name: str) -> str:
    found = _addresses(msg, name)
    return found[0] if found else _safe_header(msg, name)


def _date(msg: Message) -> datetime | None:
    raw = _safe_header(msg, "Date")
    if not raw:
        return None
    try:
        return email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None


def _walk_parts(
    msg: Message,
) -> tuple[str | None, str | None, tuple[AttachmentInfo, ...]]:
    text: str | None = None
    html: str | None = None
    attachments: list[AttachmentInfo] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition == "attachment" or (filename and disposition != "inline"):
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            attachments.append(AttachmentInfo(filename or "", content_type, size))
            continue
        if content_type == "text/plain" and text is None:
            text = _decoded_text(part)
        elif content_type == "text/html" and html is None:
            html = _decoded_text(part)
    return text, html, tuple(attachments)


def _decoded_text(part: Message) -> str:
    # No declared charset on 8-bit text is common in the wild; UTF-8 is the best guess.
    if isinstance(part, EmailMessage) and part.get_content_charset() is not None:
        try:
            content = part.get_content()
            if isinstance(content, str):
                return content
        except (LookupError, ValueError, AssertionError):
            pass  # unknown charset or broken transfer encoding: fall back below
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    return str(payload or "")
