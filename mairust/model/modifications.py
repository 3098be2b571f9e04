"""The declarative modifications a verdict may ask for, and the one place they are applied.

Header edits work on the raw bytes of the header block (folded lines stay whole; the body
is never touched); envelope edits on the sender and the recipient list. Names and values
are checked when a modification is made: no CR, LF or NUL can reach a header, so a plugin
cannot inject one. Milter's ``addheader``/``chgheader``/``delrcpt`` are the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mairust.errors import InvalidInput

MAX_HEADER_VALUE = 4000
# RFC 5322 §2.2: a field name is printable US-ASCII except the colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,76}")
_UNSAFE_VALUE = re.compile(r"[\x00\r\n]")


def _checked_name(name: str) -> None:
    if not _FIELD_NAME.fullmatch(name):
        raise InvalidInput(f"not a header field name: {name!r}")


def _checked_value(value: str) -> None:
    if _UNSAFE_VALUE.search(value) or len(value) > MAX_HEADER_VALUE:
        raise InvalidInput("a header value may not hold CR, LF or NUL, nor exceed 4000 chars")


@dataclass(frozen=True, slots=True)
class AddHeader:
    """Append ``name: value`` to the end of the header block."""

    name: str
    value: str

    def __post_init__(self) -> None:
        _checked_name(self.name)
        _checked_value(self.value)


@dataclass(frozen=True, slots=True)
class ChangeHeader:
    """Give the ``occurrence``-th (from 1) ``name`` field the value ``value``; added when
    the message has no such occurrence."""

    name: str
    value: str
    occurrence: int = 1

    def __post_init__(self) -> None:
        _checked_name(self.name)
        _checked_value(self.value)
        if self.occurrence < 1:
            raise InvalidInput("a header occurrence counts from 1")


@dataclass(frozen=True, slots=True)
class DeleteHeader:
    """Remove the ``occurrence``-th ``name`` field, or every one when None."""

    name: str
    occurrence: int | None = None

    def __post_init__(self) -> None:
        _checked_name(self.name)
        if self.occurrence is not None and self.occurrence < 1:
            raise InvalidInput("a header occurrence counts from 1")


@dataclass(frozen=True, slots=True)
class ChangeEnvelopeFrom:
    address: str  # "" for the null sender


@dataclass(frozen=True, slots=True)
class AddRecipient:
    address: str


@dataclass(frozen=True, slots=True)
class DeleteRecipient:
    address: str


HeaderModification = AddHeader | ChangeHeader | DeleteHeader
EnvelopeModification = ChangeEnvelopeFrom | AddRecipient | DeleteRecipient
Modification = HeaderModification | EnvelopeModification


def apply_to_headers(message: bytes, modifications: Iterable[Modification]) -> bytes:
    """``message`` (CRLF line endings) with the header edits among ``modifications`` made,
    in order; the body is the same bytes."""
    edits = [m for m in modifications if isinstance(m, AddHeader | ChangeHeader | DeleteHeader)]
    if not edits:
        return message
    end = message.find(b"\r\n\r\n")
    header_block, rest = (message, b"") if end < 0 else (message[: end + 2], message[end + 2 :])
    fields = _fields(header_block)
    for edit in edits:
        fields = _edited(fields, edit)
    return b"".join(fields) + rest


def apply_to_envelope(
    mail_from: str, recipients: Sequence[str], modifications: Iterable[Modification]
) -> tuple[str, tuple[str, ...]]:
    """The sender and recipients after the envelope edits, in order (each recipient once)."""
    sender, listed = mail_from, list(recipients)
    for edit in modifications:
        match edit:
            case ChangeEnvelopeFrom(address=address):
                sender = address
            case AddRecipient(address=address) if address not in listed:
                listed.append(address)
            case DeleteRecipient(address=address) if address in listed:
                listed.remove(address)
    return sender, tuple(listed)


def _fields(header_block: bytes) -> list[bytes]:
    """Each header field with its folded continuation lines, CRLF included."""
    fields: list[bytes] = []
    for line in header_block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _name_of(field: bytes) -> str:
    return field.split(b":", 1)[0].strip().decode("ascii", "replace").lower()


def _edited(fields: list[bytes], edit: HeaderModification) -> list[bytes]:
    wanted = edit.name.lower()
    positions = [i for i, f in enumerate(fields) if _name_of(f) == wanted]
    match edit:
        case AddHeader(name=name, value=value):
            return [*fields, _line(name, value)]
        case ChangeHeader(name=name, value=value, occurrence=occurrence):
            if occurrence > len(positions):
                return [*fields, _line(name, value)]
            changed = list(fields)
            at = positions[occurrence - 1]
            # The field keeps its name as the message spelt it.
            changed[at] = fields[at].split(b":", 1)[0] + f": {value}\r\n".encode()
            return changed
        case DeleteHeader(occurrence=None):
            return [f for i, f in enumerate(fields) if i not in set(positions)]
        case DeleteHeader(occurrence=occurrence):
            assert occurrence is not None
            if occurrence > len(positions):
                return fields
            gone = positions[occurrence - 1]
            return [f for i, f in enumerate(fields) if i != gone]
    return fields


def _line(name: str, value: str) -> bytes:
    return f"{name}: {value}\r\n".encode()
