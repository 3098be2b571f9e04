"""Turn raw RFC 5322 bytes into the parts the pipeline and the API show.

Pure: bytes in, values out. Uses the standard library's ``email`` package with its
``compat32`` policy, which only splits the message: the modern policy's header objects
cost ~100 times more per message and the pipeline parses every message it delivers, so the few
headers shown are decoded here (encoded-words, raw UTF-8). Malformed input never raises,
it yields what could be read.
"""

from __future__ import annotations

import contextlib
import email.errors
import email.header
import email.policy
import email.utils
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesParser

_PARSER = BytesParser(policy=email.policy.compat32)


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
    headers = tuple((name, decode_header_value(value)) for name, value in _raw_items(msg))
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


def decode_header_value(value: str) -> str:
    """A header's text for people: raw 8-bit read as UTF-8, encoded-words (RFC 2047)
    decoded, folding undone. Parts that do not decode are kept as they are."""
    if _has_surrogates(value):
        value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    if "=?" in value:
        # A broken encoded-word keeps the raw text: the most honest rendering.
        with contextlib.suppress(
            ValueError, LookupError, UnicodeError, email.errors.HeaderParseError
        ):
            value = "".join(
                _decoded_chunk(chunk, charset)
                for chunk, charset in email.header.decode_header(value)
            )
    return " ".join(value.split())


def _decoded_chunk(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    try:
        return chunk.decode(charset or "ascii", "replace")
    except LookupError:  # an unknown charset: UTF-8 is the best guess
        return chunk.decode("utf-8", "replace")


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _raw_items(msg: Message) -> list[tuple[str, str]]:
    # compat32 keeps each header as the text that arrived (8-bit bytes as surrogates).
    return [(name, str(value)) for name, value in msg.raw_items()]


def _header_values(msg: Message, name: str) -> list[str]:
    wanted = name.lower()
    return [decode_header_value(value) for key, value in _raw_items(msg) if key.lower() == wanted]


def _safe_header(msg: Message, name: str) -> str:
    values = _header_values(msg, name)
    return without_controls(values[0]) if values else ""


def without_controls(text: str) -> str:
    """``text`` without C0 control characters and DEL (a NUL cannot be stored everywhere)."""
    return "".join(c for c in text if ord(c) >= 32 and ord(c) != 127)


def _undecoded_values(msg: Message, name: str) -> list[str]:
    """The header's values with 8-bit text read as UTF-8 and folding undone, but encoded
    words left encoded: an address list must be split before any display name is decoded,
    or a name like ``=?utf-8?q?ceo=40bank.example?=`` would split as an address."""
    wanted = name.lower()
    values = []
    for key, value in _raw_items(msg):
        if key.lower() == wanted:
            if _has_surrogates(value):
                value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
            values.append(" ".join(value.split()))
    return values


def _addresses(msg: Message, name: str) -> tuple[str, ...]:
    try:
        pairs = email.utils.getaddresses(_undecoded_values(msg, name))
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
        info = attachment_info(part)
        if info is not None:
            attachments.append(info)
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain" and text is None:
            text = _decoded_text(part)
        elif content_type == "text/html" and html is None:
            html = _decoded_text(part)
    return text, html, tuple(attachments)


def attachment_info(part: Message) -> AttachmentInfo | None:
    """What the listing shows of ``part`` if it is an attachment (a non-multipart part with
    ``Content-Disposition: attachment``, or a file name and not inline); None otherwise."""
    if part.is_multipart():
        return None
    disposition = part.get_content_disposition()
    raw_filename = part.get_filename()
    filename = decode_header_value(raw_filename) if raw_filename else None
    if disposition == "attachment" or (filename and disposition != "inline"):
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        return AttachmentInfo(filename or "", part.get_content_type(), size)
    return None


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(payload or "")
    # No declared charset on 8-bit text is common in the wild; UTF-8 is the best guess.
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # an unknown charset
        return payload.decode("utf-8", "replace")
