"""The field syntax of delivery status notifications, both ways: what the DSN builder
writes and the report parser reads. RFC 3464 typed values (``rfc822; a@b``,
``dns; mx.example``, ``smtp; 550 5.1.1 ...``), RFC 3461 xtext, RFC 6533 ``utf-8``
addresses with ``\\x{HEX}`` escapes, and the closed set of DSN actions.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from email.utils import format_datetime

# A diagnostic's length cap: no folded line of a report can then pass 998 octets.
MAX_DIAGNOSTIC = 900
_WHITESPACE = re.compile(r"\s+")
_REPLY_PREFIX = re.compile(r"^(\d{3})[ -]([245]\.\d{1,3}\.\d{1,3} )?")
_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_UNICODE_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
# An enhanced status code standing alone: not part of an IP address or a version number.
STATUS_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")


class DsnAction(enum.StrEnum):
    """RFC 3464 §2.3.3: what happened to one recipient."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    EXPANDED = "expanded"


def find_status(text: str) -> str | None:
    """The first enhanced status code in ``text``, normalised (``5.01.1`` → ``5.1.1``)."""
    found = STATUS_CODE.search(text)
    return ".".join(str(int(part)) for part in found.groups()) if found else None


def xtext_decode(value: str) -> str:
    """RFC 3461 §4: ``+XX`` is the byte 0xXX; anything else stands for itself."""
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


def one_line(value: str | None) -> str:
    """No CR, LF or other control character survives into a header or the report."""
    text = "".join(ch if ch.isprintable() else " " for ch in value or "")
    return _WHITESPACE.sub(" ", text).strip()


def ascii_only(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def strip_brackets(address: str) -> str:
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        return address[1:-1].strip()
    return address


def typed_address(address: str) -> str:
    """An address as RFC 3464 writes it: ``rfc822; a@b``; a non-ASCII one as RFC 6533's
    ``utf-8`` type with ``\\x{HEX}`` escapes, so the report stays 7-bit."""
    address = strip_brackets(one_line(address))
    if address.isascii():
        return f"rfc822; {address}"
    escaped = "".join(
        ch if (0x21 <= ord(ch) <= 0x7E and ch not in "+=\\") else f"\\x{{{ord(ch):X}}}"
        for ch in address
    )
    return f"utf-8; {escaped}"


def read_typed_address(value: str | None) -> str:
    """``rfc822; <User@Example.com>`` → ``User@Example.com``; ``utf-8`` escapes decoded;
    ``""`` when there is no address (an untyped value without ``@``)."""
    if not value:
        return ""
    kind, sep, rest = value.partition(";")
    address = (rest if sep else kind).strip()
    if sep and kind.strip().lower() == "utf-8":
        address = _UNICODE_ESCAPE.sub(_unescape, address)
    address = strip_brackets(address)
    return address if "@" in address or sep else ""


def _unescape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code <= 0x10FFFF else match.group(0)


def read_typed_value(value: str | None) -> str | None:
    """``dns; mx.example.net`` → ``mx.example.net``."""
    if not value:
        return None
    kind, sep, rest = value.partition(";")
    return (rest if sep else kind).strip() or None


def flatten_reply(reply: str) -> str:
    """A multi-line reply (``550-5.1.1 a`` / ``550 5.1.1 b``) as one: ``550 5.1.1 a b``."""
    lines = [line for line in re.split(r"\r\n|\r|\n", reply) if line.strip()]
    first = _REPLY_PREFIX.match(lines[0]) if len(lines) > 1 else None
    if first is None:
        return reply
    texts = [_REPLY_PREFIX.sub("", line, count=1).strip() for line in lines]
    return f"{first.group(1)} {first.group(2) or ''}{' '.join(texts)}"


def typed_diagnostic(diagnostic: str, limit: int) -> str:
    """A Diagnostic-Code value: a reply as ``smtp; 550 5.1.1 ...`` (one line, ASCII, at
    most ``limit`` characters); a value already typed (``x-mairust; ...``) keeps its type."""
    text = one_line(flatten_reply(diagnostic))[:limit]
    kind, sep, rest = text.partition(";")
    if sep and _TYPE_NAME.fullmatch(kind.strip()):
        return f"{kind.strip()}; {ascii_only(rest.strip())}"
    return f"smtp; {ascii_only(text)}"


def read_diagnostic(value: str | None) -> tuple[str | None, str | None]:
    """``smtp; 550 5.1.1 ...`` → (``smtp``, ``550 5.1.1 ...``); untyped → (None, value)."""
    if not value:
        return None, None
    kind, sep, rest = value.partition(";")
    if sep and _TYPE_NAME.fullmatch(kind.strip()):
        return kind.strip().lower(), rest.strip() or None
    return None, value.strip() or None


def fold(field: str, width: int = 78) -> str:
    """Fold a long field at spaces (continuation lines start with a space)."""
    lines: list[str] = []
    current = ""
    for word in field.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = " " + word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\r\n".join(lines)


def rfc5322_date(moment: datetime) -> str:
    """An RFC 5322 date; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment)
