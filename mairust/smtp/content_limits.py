"""Header and MIME limits on a message at the end of DATA: a streaming scan, not a parse.

The pipeline's parser (``email.parser``) builds an object per part; a message of 10 000
parts, or multiparts nested thousands deep, costs it seconds of CPU and much memory after
the message is already durable. The edge refuses such mail before the spool commit with
this scan instead: it reads each header block line by line (only the message's own and
each part's), and jumps from boundary line to boundary line with one regular expression
that matches only the exact delimiter lines of the multiparts open at that point. A plain
5 KiB message costs microseconds; the work on a MIME bomb stops at the first limit.

It counts the way the parser nests (``email.feedparser``): a multipart with a boundary
opens a level, as does a ``message/*`` part (except ``message/delivery-status``), whose
content is a message with headers of its own; a part of a ``multipart/digest`` without a
Content-Type is a message. A boundary line of an outer multipart also ends the inner ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mairust.config import SmtpSettings
from mairust.smtp import replies

_BLANK_LINE = re.compile(rb"\n\r?\n")
_TOKEN = rb"([A-Za-z0-9!#$&.+^_-]+)"
_TYPE = re.compile(rb"\s*" + _TOKEN + rb"\s*/\s*" + _TOKEN)
_BOUNDARY = re.compile(rb';\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', re.I)


@dataclass(frozen=True, slots=True)
class ContentLimits:
    """The limits the scan applies (``[smtp]`` settings of the same names)."""

    max_header_count: int
    max_header_bytes: int
    max_header_field_bytes: int
    max_mime_depth: int
    max_mime_parts: int

    @classmethod
    def of(cls, settings: SmtpSettings) -> ContentLimits:
        return cls(
            settings.max_header_count,
            settings.max_header_bytes,
            settings.max_header_field_bytes,
            settings.max_mime_depth,
            settings.max_mime_parts,
        )


class _Refused(Exception):
    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class _Multipart:
    boundary: bytes
    digest: bool  # its parts default to message/rfc822
    depth: int


def content_refusal(message: bytes, limits: ContentLimits) -> str | None:
    """The reply refusing ``message`` (as received, CRLF or LF lines), or None when every
    header block and the MIME structure are within ``limits``."""
    try:
        _scan(message, limits)
    except _Refused as refused:
        return refused.reply
    return None


def _scan(message: bytes, limits: ContentLimits) -> None:
    open_parts: list[_Multipart] = []
    body = _enter(message, 0, 0, False, limits, open_parts)
    parts = 0
    # From the blank line's LF: a delimiter may be the body's first line.
    pos = body - 1
    while open_parts and pos < len(message):
        found = _delimiters(tuple(part.boundary for part in open_parts)).search(message, pos)
        if found is None:
            return
        text = found.group(1)
        pos = found.end()
        for level in range(len(open_parts) - 1, -1, -1):
            multipart = open_parts[level]
            if text == multipart.boundary:  # the next part of this multipart
                del open_parts[level + 1 :]
                parts += 1
                if parts > limits.max_mime_parts:
                    raise _Refused(replies.TOO_MANY_MIME_PARTS)
                start = pos + 1
                body = _enter(message, start, multipart.depth, multipart.digest, limits, open_parts)
                pos = max(pos, body - 1)
                break
            if text == multipart.boundary + b"--":  # its close-delimiter
                del open_parts[level:]
                break


@lru_cache(maxsize=256)
def _delimiters(boundaries: tuple[bytes, ...]) -> re.Pattern[bytes]:
    """Lines that are exactly ``--boundary`` or ``--boundary--`` of one of ``boundaries``
    (transport padding allowed, RFC 2046 §5.1.1); group 1 is what follows the ``--``."""
    alternatives = b"|".join(re.escape(boundary) for boundary in boundaries)
    return re.compile(rb"\n--((?:" + alternatives + rb")(?:--)?)[ \t]*\r?(?=\n|\Z)")


def _enter(
    message: bytes,
    start: int,
    depth: int,
    default_message: bool,
    limits: ContentLimits,
    open_parts: list[_Multipart],
) -> int:
    """Read the header block at ``start`` (and a message/* part's inner message's, and so
    on); a multipart's boundary joins ``open_parts``. Returns where the last body starts."""
    while True:
        body, content_type = _header_block(message, start, limits)
        major, minor, boundary = _content_type(content_type)
        if major is None and default_message:
            major, minor = b"message", b"rfc822"
        if major == b"multipart" and boundary:
            if depth + 1 > limits.max_mime_depth:
                raise _Refused(replies.MIME_TOO_DEEP)
            open_parts.append(_Multipart(boundary, minor == b"digest", depth + 1))
            return body
        if major != b"message" or minor == b"delivery-status" or body >= len(message):
            return body
        depth += 1  # the part's content is a message of its own
        if depth > limits.max_mime_depth:
            raise _Refused(replies.MIME_TOO_DEEP)
        start, default_message = body, False


def _header_block(message: bytes, start: int, limits: ContentLimits) -> tuple[int, bytes | None]:
    """(where the body after the header block at ``start`` begins, the first Content-Type
    value or None), or _Refused when the block crosses a header limit."""
    if message.startswith(b"\n", start):
        return start + 1, None
    if message.startswith(b"\r\n", start):
        return start + 2, None
    window = start + limits.max_header_bytes + 1
    blank = _BLANK_LINE.search(message, start, window + 2)
    if blank is None:
        if len(message) > window:
            raise _Refused(replies.HEADER_TOO_BIG)
        end = body = len(message)  # headers only
    else:
        end, body = blank.start() + 1, blank.end()
    if end - start > limits.max_header_bytes:
        raise _Refused(replies.HEADER_TOO_BIG)
    count = 0
    field = 0
    content_type: list[bytes] | None = None
    in_content_type = False
    for line in message[start:end].split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            field += len(line) + 1
            if in_content_type and content_type is not None:
                content_type.append(line)
        elif line:
            count += 1
            if count > limits.max_header_count:
                raise _Refused(replies.TOO_MANY_HEADER_FIELDS)
            field = len(line) + 1
            in_content_type = content_type is None and line[:13].lower() == b"content-type:"
            if in_content_type:
                content_type = [line[13:]]
        if field > limits.max_header_field_bytes:
            raise _Refused(replies.HEADER_FIELD_TOO_BIG)
    return body, None if content_type is None else b"".join(content_type)


def _content_type(value: bytes | None) -> tuple[bytes | None, bytes | None, bytes | None]:
    """(type, subtype) lower-cased and the boundary parameter as written; Nones when absent
    or unreadable (the parser then takes the part as text/plain)."""
    if value is None:
        return None, None, None
    found = _TYPE.match(value)
    if found is None:
        return None, None, None
    major, minor = found.group(1).lower(), found.group(2).lower()
    if major != b"multipart":
        return major, minor, None
    parameter = _BOUNDARY.search(value, found.end())
    if parameter is None:
        return major, minor, None
    quoted = parameter.group(1)
    boundary = parameter.group(2) if quoted is None else re.sub(rb"\\(.)", rb"\1", quoted)
    return major, minor, boundary.rstrip(b" \t\r\n")
