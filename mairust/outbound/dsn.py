"""Delivery status notifications we send: one RFC 3464 ``multipart/report`` per original
message, about the recipients the delivery loop settled, honouring RFC 3461's NOTIFY, RET,
ENVID and ORCPT.

Pure: the caller passes the original's bytes, its envelope, the recipients' outcomes and
the clock; it gets back the DSN's bytes (CRLF only) and its envelope (sender ``<>``), or a
:class:`NoDsn` saying why none is due. Storing it and queueing it is the caller's part.
"""

from __future__ import annotations

import email.quoprimime
import enum
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid

from mairust.outbound.dsn_fields import (
    MAX_DIAGNOSTIC,
    DsnAction,
    ascii_only,
    fold,
    one_line,
    rfc5322_date,
    strip_brackets,
    typed_address,
    typed_diagnostic,
    xtext_decode,
)
from mairust.outbound.dsn_text import human_text, subject

DEFAULT_MAX_RETURNED_BYTES = 128 * 1024
_MAX_LINE = 998  # RFC 5322 §2.1.1, without the CRLF
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
_LINE_BREAKS = re.compile(rb"\r\n|\r|\n")
_HEADER_END = re.compile(rb"\r\n\r\n")
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")


# The status classes each action may carry. A "failed" recipient may keep the 4.x.x it got
# until its time ran out (an expiry; Postfix reports those so too).
_STATUS_CLASS = {
    DsnAction.FAILED: "54",
    DsnAction.DELAYED: "4",
    DsnAction.DELIVERED: "2",
    DsnAction.RELAYED: "2",
    DsnAction.EXPANDED: "2",
}
# RFC 3461 §4.1: which NOTIFY keyword asks for a DSN with this action.
_NOTIFY_FOR = {
    DsnAction.FAILED: "FAILURE",
    DsnAction.DELAYED: "DELAY",
    DsnAction.DELIVERED: "SUCCESS",
    DsnAction.RELAYED: "SUCCESS",
    DsnAction.EXPANDED: "SUCCESS",
}


class NoDsnReason(enum.StrEnum):
    NULL_REVERSE_PATH = "null_reverse_path"  # never a DSN to <> (RFC 3461 §6.2, no loops)
    NOT_REQUESTED = "not_requested"  # NOTIFY (or its default) asks for none of these


class Returned(enum.StrEnum):
    """What of the original a DSN carries (RFC 3461 RET, within our cap)."""

    FULL = "full"  # the whole message, message/rfc822
    HEADERS = "headers"  # its header section, text/rfc822-headers
    NONE = "none"  # not even that could be carried


@dataclass(frozen=True, slots=True)
class NoDsn:
    reason: NoDsnReason


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who reports: the reporting MTA's name and the cap on the original we return."""

    mta_name: str
    max_returned_bytes: int = DEFAULT_MAX_RETURNED_BYTES

    def __post_init__(self) -> None:
        if not _HOST_NAME.fullmatch(self.mta_name):
            raise ValueError(f"reporting MTA name {self.mta_name!r} is not a host name")

    @property
    def from_address(self) -> str:
        return f"MAILER-DAEMON@{self.mta_name}"


@dataclass(frozen=True, slots=True)
class OriginalEnvelope:
    """The original message's envelope: its reverse path (``""`` or ``"<>"`` for the null
    one) and its RFC 3461 parameters as given at MAIL FROM."""

    reverse_path: str
    envid: str | None = None
    ret: str | None = None  # "FULL" or "HDRS"; None: headers only
    arrival_date: datetime | None = None

    @property
    def is_null(self) -> bool:
        return self.reverse_path.strip() in ("", "<>")


@dataclass(frozen=True, slots=True)
class RecipientOutcome:
    """One recipient's outcome, as the DSN reports it. ``original_recipient`` is ORCPT as
    given (``rfc822;user@example.com``, xtext); ``notify`` the RCPT's NOTIFY keywords
    (empty: RFC 3461's default, failures only); ``diagnostic`` the remote reply
    (``550 5.1.1 ...``) or a typed one (``smtp; 550 ...``, ``x-mairust; timeout``)."""

    final_recipient: str
    action: DsnAction
    status: str
    original_recipient: str | None = None
    notify: tuple[str, ...] = ()
    remote_mta: str | None = None
    diagnostic: str | None = None
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None

    def __post_init__(self) -> None:
        if not strip_brackets(one_line(self.final_recipient)):
            raise ValueError("an outcome needs its final recipient's address")
        if not _STATUS.fullmatch(self.status):
            raise ValueError(f"status {self.status!r} is not an RFC 3463 x.y.z code")
        if self.status[0] not in _STATUS_CLASS[self.action]:
            raise ValueError(f"action {self.action} cannot carry status {self.status}")


@dataclass(frozen=True, slots=True)
class Dsn:
    """A DSN ready to queue: its envelope (sender always null) and bytes (CRLF only)."""

    envelope_from: str
    envelope_to: str
    message_id: str
    message: bytes
    recipients: tuple[RecipientOutcome, ...]  # the ones it reports (NOTIFY let through)
    returned: Returned

    @property
    def eight_bit(self) -> bool:
        """It carries 8-bit octets (an 8bit original): send it with BODY=8BITMIME."""
        return not self.message.isascii()

    @property
    def smtputf8(self) -> bool:
        """Its recipient is a non-ASCII address: send it with SMTPUTF8."""
        return not self.envelope_to.isascii()


def dsn_requested(action: DsnAction, notify: Sequence[str]) -> bool:
    """Whether RFC 3461 NOTIFY asks for a DSN about this action (no NOTIFY: failures only)."""
    keywords = {keyword.strip().upper() for keyword in notify if keyword.strip()}
    if "NEVER" in keywords:
        return False
    if not keywords:
        return action is DsnAction.FAILED
    return _NOTIFY_FOR[action] in keywords


def build_dsn(
    original: bytes,
    envelope: OriginalEnvelope,
    outcomes: Sequence[RecipientOutcome],
    reporter: Reporter,
    *,
    now: datetime,
    message_id: str | None = None,
) -> Dsn | NoDsn:
    """The one DSN about ``original`` covering every outcome NOTIFY asks about, or why none."""
    if envelope.is_null:
        return NoDsn(NoDsnReason.NULL_REVERSE_PATH)
    reported = tuple(o for o in outcomes if dsn_requested(o.action, o.notify))
    if not reported:
        return NoDsn(NoDsnReason.NOT_REQUESTED)
    message_id = message_id or make_msgid(domain=reporter.mta_name)
    normalised = _LINE_BREAKS.sub(b"\r\n", original)
    returned_part, returned, size_note = _returned_part(normalised, envelope, reporter)
    boundary = _boundary(normalised)
    recipient_to = strip_brackets(one_line(envelope.reverse_path))
    human = human_text(reported, reporter.mta_name, size_note)
    parts = [_text_part(human), _status_part(envelope, reported, reporter)]
    if returned_part is not None:
        parts.append(returned_part)
    delimiter = b"--" + boundary.encode()
    body = b"".join(delimiter + b"\r\n" + part for part in parts) + delimiter + b"--\r\n"
    headers = [
        f"From: Mail Delivery System <{reporter.from_address}>",
        f"To: <{recipient_to}>",
        f"Subject: {subject(reported)}",
        f"Date: {rfc5322_date(now)}",
        f"Message-ID: {message_id}",
    ]
    original_id = _original_message_id(normalised)
    if original_id:
        headers += [f"In-Reply-To: {original_id}", f"References: {original_id}"]
    headers += [
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
    ]
    if not body.isascii():
        # RFC 2045 §6.4: a multipart holding an 8bit part is itself labelled 8bit.
        headers.append("Content-Transfer-Encoding: 8bit")
    preamble = b"\r\nThis is a delivery status notification in MIME format.\r\n\r\n"
    message = _lines(headers) + preamble + body
    return Dsn("", recipient_to, message_id, message, reported, returned)


def _text_part(text: str) -> bytes:
    if text.isascii():
        headers = ["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit"]
        body = text.encode("ascii")
    else:
        headers = [
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
        ]
        encoded = email.quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), eol="\r\n")
        body = encoded.encode("ascii")
    return _lines(["Content-Description: Notification", *headers]) + b"\r\n" + body + b"\r\n"


def _status_part(
    envelope: OriginalEnvelope, reported: Sequence[RecipientOutcome], reporter: Reporter
) -> bytes:
    fields = [f"Reporting-MTA: dns; {one_line(reporter.mta_name)}"]
    if envelope.envid:
        fields.append(f"Original-Envelope-Id: {one_line(xtext_decode(envelope.envid))}")
    if envelope.arrival_date:
        fields.append(f"Arrival-Date: {rfc5322_date(envelope.arrival_date)}")
    blocks = [_lines(fields)]
    for outcome in reported:
        recipient = [f"Final-Recipient: {typed_address(outcome.final_recipient)}"]
        if outcome.original_recipient:
            recipient.append(f"Original-Recipient: {_original_recipient(outcome)}")
        recipient += [f"Action: {outcome.action}", f"Status: {outcome.status}"]
        if outcome.remote_mta:
            recipient.append(f"Remote-MTA: dns; {one_line(outcome.remote_mta)}")
        if outcome.diagnostic:
            recipient.append(
                fold(f"Diagnostic-Code: {typed_diagnostic(outcome.diagnostic, MAX_DIAGNOSTIC)}")
            )
        if outcome.last_attempt:
            recipient.append(f"Last-Attempt-Date: {rfc5322_date(outcome.last_attempt)}")
        if outcome.will_retry_until and outcome.action is DsnAction.DELAYED:
            recipient.append(f"Will-Retry-Until: {rfc5322_date(outcome.will_retry_until)}")
        blocks.append(_lines(recipient))
    head = _lines(["Content-Description: Delivery report", "Content-Type: message/delivery-status"])
    return head + b"\r\n" + b"\r\n".join(blocks) + b"\r\n"


def _returned_part(
    original: bytes, envelope: OriginalEnvelope, reporter: Reporter
) -> tuple[bytes | None, Returned, str]:
    """The third part (the original, or its headers) and a note for the human part."""
    match = _HEADER_END.search(original)
    header_block = original[: match.start() + 2] if match else original
    if original.startswith(b"\r\n"):
        header_block = b""  # no header section at all
    if header_block and not header_block.endswith(b"\r\n"):
        header_block += b"\r\n"
    full = (envelope.ret or "").strip().upper() == "FULL"
    note = ""
    if full and len(original) > reporter.max_returned_bytes:
        full = False
        note = (
            f"The original message was {len(original)} bytes, over our "
            f"{reporter.max_returned_bytes}-byte limit: only its headers are returned."
        )
    if full and not _transportable(original):
        full = False
        note = "The original message cannot be returned as it was: only its headers are."
    if full:
        body = original if original.endswith(b"\r\n") else original + b"\r\n"
        head = _lines(
            [
                "Content-Description: Undelivered Message",
                "Content-Type: message/rfc822",
                f"Content-Transfer-Encoding: {'7bit' if body.isascii() else '8bit'}",
            ]
        )
        return head + b"\r\n" + body + b"\r\n", Returned.FULL, note
    if (
        not header_block
        or len(header_block) > reporter.max_returned_bytes
        or not _transportable(header_block)
    ):
        return None, Returned.NONE, "The original message's headers cannot be returned."
    head = _lines(
        [
            "Content-Description: Undelivered Message Headers",
            "Content-Type: text/rfc822-headers",
            f"Content-Transfer-Encoding: {'7bit' if header_block.isascii() else '8bit'}",
        ]
    )
    return head + b"\r\n" + header_block + b"\r\n", Returned.HEADERS, note


def _transportable(data: bytes) -> bool:
    """Whether bytes fit a 7bit/8bit MIME part as they are: no NUL, no line over 998."""
    return b"\x00" not in data and all(len(line) <= _MAX_LINE for line in data.split(b"\r\n"))


def _boundary(original: bytes) -> str:
    while True:
        boundary = f"=_dsn_{secrets.token_hex(12)}"
        if boundary.encode() not in original:
            return boundary


def _original_message_id(original: bytes) -> str | None:
    match = _HEADER_END.search(original)
    block = original[: match.start()] if match else original
    found = re.search(rb"(?im)^message-id:\s*(<[^<>\s]{1,900}>)", block)
    return found.group(1).decode("ascii") if found else None


def _original_recipient(outcome: RecipientOutcome) -> str:
    value = one_line(outcome.original_recipient or "")
    kind, sep, address = value.partition(";")
    if not sep:
        return typed_address(value)
    decoded = xtext_decode(address.strip())
    if kind.strip().lower() == "rfc822":
        return typed_address(decoded)
    return f"{kind.strip()}; {ascii_only(decoded)}"


def _lines(lines: Sequence[str]) -> bytes:
    # UTF-8 only where an SMTPUTF8 reverse path reaches the To: field (RFC 6532); every
    # other field is ASCII by construction.
    return "".join(f"{line}\r\n" for line in lines).encode("utf-8")
