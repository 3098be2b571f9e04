"""Reports that come back about our outbound mail, read into typed results the delivery
loop can match to its recipients: delivery status notifications (RFC 3464, and RFC 6533's
``message/global-delivery-status``) and ARF complaint reports (RFC 5965).

Input is untrusted bytes from anywhere: :func:`parse_report` never raises, it answers
:class:`NotAReport` for ordinary mail and :class:`MalformedReport` for a report it cannot
read. It is lenient where senders commonly are (a missing ``Action`` taken from the status
class, ``Status: 5.1.1 (user unknown)``) and strict where matching needs it (a recipient
block without a final recipient is left out). Parsing is the stdlib ``email`` package's.
"""

from __future__ import annotations

import email.errors
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime

from mairust.outbound.bounce_class import BounceClassification, classify_reply
from mairust.outbound.dsn_fields import (
    DsnAction,
    find_status,
    read_diagnostic,
    read_typed_address,
    read_typed_value,
)

log = logging.getLogger(__name__)

_FOLD = re.compile(r"\r?\n[ \t]+")
_WHITESPACE = re.compile(r"\s+")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_REPLY_CODE = re.compile(r"^([2-5]\d\d)[ -](.*)$", re.DOTALL)
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_FEEDBACK_TYPE = "message/feedback-report"
_MESSAGE_TYPES = ("message/rfc822", "message/global")
_HEADERS_TYPES = ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers")
_ACTIONS = {action.value: action for action in DsnAction}
_ACTION_BY_CLASS = {"5": DsnAction.FAILED, "4": DsnAction.DELAYED, "2": DsnAction.DELIVERED}
# What the stdlib parser and our reading of its result can raise on hostile input; anything
# else is a bug of ours and should be seen.
_PARSE_ERRORS = (
    email.errors.MessageError,
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    UnicodeError,
    RecursionError,
)


@dataclass(frozen=True, slots=True)
class NotAReport:
    """Ordinary mail, or a report of another kind (an MDN, a TLS report ...)."""

    reason: str


@dataclass(frozen=True, slots=True)
class MalformedReport:
    """It says it is a DSN or an ARF report, and cannot be read as one."""

    reason: str


@dataclass(frozen=True, slots=True)
class ReportedRecipient:
    """One recipient block of a DSN. Addresses are bare (no type, no brackets)."""

    final_recipient: str
    action: DsnAction
    status: str
    original_recipient: str | None = None
    remote_mta: str | None = None
    diagnostic: str | None = None  # the remote's reply or the reporter's words, unfolded
    diagnostic_type: str | None = None  # "smtp", "x-unix" ...
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None

    @property
    def classification(self) -> BounceClassification:
        """Why it failed, in our closed set: the remote's reply where the DSN quotes one,
        with the DSN's status unless that is only generic (``5.0.0``)."""
        code: int | None = None
        text = self.diagnostic or ""
        if self.diagnostic_type in (None, "smtp"):
            reply = _REPLY_CODE.match(text)
            if reply:
                code, text = int(reply.group(1)), reply.group(2)
        quoted = find_status(text[:12])
        status = quoted if quoted and self.status.endswith(".0.0") else self.status
        found = classify_reply(code, status, text)
        # The DSN's action is the verdict on permanence: a "failed" recipient will not retry.
        return BounceClassification(
            found.bounce_class, self.action is DsnAction.FAILED, found.status
        )


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A DSN: who reports, our envelope id if we gave one, and each recipient's outcome,
    with the Message-ID of the returned message (or headers) to match it by."""

    recipients: tuple[ReportedRecipient, ...]
    reporting_mta: str | None = None
    original_envelope_id: str | None = None
    arrival_date: datetime | None = None
    original_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ComplaintReport:
    """An ARF feedback report (a recipient or their provider says our mail is abuse ...)."""

    feedback_type: str  # lower case: abuse, fraud, virus, not-spam, auth-failure, other ...
    original_mail_from: str | None = None
    original_rcpt_to: tuple[str, ...] = ()
    original_message_id: str | None = None
    user_agent: str | None = None
    version: str | None = None
    arrival_date: datetime | None = None
    reporting_mta: str | None = None
    source_ip: str | None = None
    reported_domains: tuple[str, ...] = ()


ParsedReport = DeliveryReport | ComplaintReport | NotAReport | MalformedReport


def parse_report(raw: bytes) -> ParsedReport:
    """Read one received message as a DSN or an ARF report; never raises."""
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
        return _parse_message(message)
    except _PARSE_ERRORS as error:
        log.debug("report unreadable: %r", error)
        return MalformedReport(f"unreadable: {type(error).__name__}")


def _parse_message(message: Message) -> ParsedReport:
    if message.get_content_type() != "multipart/report":
        return NotAReport(f"content type {message.get_content_type()}")
    payload = message.get_payload()
    parts = (
        [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []
    )
    if not parts:
        return MalformedReport("multipart/report without parts")
    report_type = str(message.get_param("report-type", "", header="content-type") or "").lower()
    types = [part.get_content_type() for part in parts]
    status_part = _first(parts, _STATUS_TYPES)
    feedback_part = _first(parts, (_FEEDBACK_TYPE,))
    if report_type in ("delivery-status", "global-delivery-status") or (
        not report_type and status_part is not None
    ):
        if status_part is None:
            return MalformedReport(f"delivery-status report without its part: {types}")
        return _delivery_report(status_part, parts)
    if report_type == "feedback-report" or (not report_type and feedback_part is not None):
        if feedback_part is None:
            return MalformedReport(f"feedback-report without its part: {types}")
        return _complaint_report(feedback_part, parts)
    return NotAReport(f"report-type {report_type or 'missing'}")


def _delivery_report(status_part: Message, parts: list[Message]) -> ParsedReport:
    blocks = _field_blocks(status_part)
    if not blocks:
        return MalformedReport("empty delivery-status part")
    per_message = blocks[0]
    # Some reporters leave out the per-message fields: a first block naming a recipient is one.
    first = 0 if "final-recipient" in per_message else 1
    recipients = tuple(
        recipient for block in blocks[first:] if (recipient := _recipient(block)) is not None
    )
    if not recipients:
        return MalformedReport("no readable per-recipient fields")
    return DeliveryReport(
        recipients=recipients,
        reporting_mta=read_typed_value(per_message.get("reporting-mta")),
        original_envelope_id=per_message.get("original-envelope-id") or None,
        arrival_date=_date(per_message.get("arrival-date")),
        original_message_id=_returned_message_id(parts),
    )


def _recipient(fields: dict[str, str]) -> ReportedRecipient | None:
    final = read_typed_address(fields.get("final-recipient"))
    if not final:
        return None
    diagnostic_type, diagnostic = read_diagnostic(fields.get("diagnostic-code"))
    status = find_status(fields.get("status", "")) or find_status(diagnostic or "")
    action = _ACTIONS.get(fields.get("action", "").strip().lower())
    if status is None:
        if action is None:
            return None
        status = {DsnAction.FAILED: "5.0.0", DsnAction.DELAYED: "4.0.0"}.get(action, "2.0.0")
    if action is None:
        action = _ACTION_BY_CLASS[status[0]]
    return ReportedRecipient(
        final_recipient=final,
        action=action,
        status=status,
        original_recipient=read_typed_address(fields.get("original-recipient")) or None,
        remote_mta=read_typed_value(fields.get("remote-mta")),
        diagnostic=diagnostic,
        diagnostic_type=diagnostic_type,
        last_attempt=_date(fields.get("last-attempt-date")),
        will_retry_until=_date(fields.get("will-retry-until")),
    )


def _complaint_report(feedback_part: Message, parts: list[Message]) -> ParsedReport:
    blocks = _field_blocks(feedback_part, repeated=("original-rcpt-to", "reported-domain"))
    if not blocks or not blocks[0].get("feedback-type"):
        return MalformedReport("feedback report without Feedback-Type")
    fields = blocks[0]
    return ComplaintReport(
        feedback_type=fields["feedback-type"].strip().lower(),
        original_mail_from=read_typed_address(fields.get("original-mail-from")) or None,
        original_rcpt_to=tuple(
            address
            for value in fields.get("original-rcpt-to", "").split("\n")
            if (address := read_typed_address(value))
        ),
        original_message_id=_returned_message_id(parts),
        user_agent=fields.get("user-agent") or None,
        version=fields.get("version") or None,
        arrival_date=_date(fields.get("arrival-date") or fields.get("received-date")),
        reporting_mta=read_typed_value(fields.get("reporting-mta")),
        source_ip=fields.get("source-ip") or None,
        reported_domains=tuple(
            domain.strip()
            for domain in fields.get("reported-domain", "").split("\n")
            if domain.strip()
        ),
    )


def _field_blocks(part: Message, repeated: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """The part's blocks of fields, names lower-cased, values unfolded; a field named in
    ``repeated`` keeps every value, one per line."""
    payload = part.get_payload()
    raw_blocks: list[list[tuple[str, str]]] = []
    if isinstance(payload, list):
        for block in payload:
            if not isinstance(block, Message):
                continue
            raw_blocks.append([(str(name), _text(value)) for name, value in block.items()])
            # message/global-delivery-status and message/feedback-report come back as one
            # sub-message: its "body" holds the remaining blocks.
            rest = block.get_payload()
            if isinstance(rest, str) and rest.strip():
                raw_blocks += _split_blocks(rest)
    elif isinstance(payload, str):
        raw_blocks = _split_blocks(payload)
    blocks = []
    for raw in raw_blocks:
        fields: dict[str, str] = {}
        for name, value in raw:
            key = name.strip().lower()
            if key in repeated and key in fields:
                fields[key] += "\n" + value
            else:
                fields.setdefault(key, value)
        if fields:
            blocks.append(fields)
    return blocks


def _split_blocks(text: str) -> list[list[tuple[str, str]]]:
    chunks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    parser = HeaderParser(policy=policy.compat32)
    return [
        [(str(name), _text(value)) for name, value in parser.parsestr(chunk + "\n").items()]
        for chunk in chunks
        if chunk.strip()
    ]


def _returned_message_id(parts: list[Message]) -> str | None:
    returned = _first(parts, _MESSAGE_TYPES)
    headers: Message | None = None
    if returned is not None:
        inner = returned.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            headers = inner[0]
    else:
        header_part = _first(parts, _HEADERS_TYPES)
        if header_part is not None:
            text = _part_text(header_part)
            headers = HeaderParser(policy=policy.compat32).parsestr(text, headersonly=True)
    if headers is None:
        return None
    value = _text(headers.get("message-id", ""))
    found = _MESSAGE_ID.search(value)
    return found.group(0) if found else (value or None)


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    return ""


def _first(parts: list[Message], types: tuple[str, ...]) -> Message | None:
    for part in parts:
        if isinstance(part, Message) and part.get_content_type() in types:
            return part
    return None


def _text(value: object) -> str:
    """A field value as clean text: unfolded, whitespace collapsed, undecodable bytes
    (compat32 keeps them as surrogates) replaced."""
    text = str(value).encode("utf-8", "replace").decode("utf-8", "replace")
    return _WHITESPACE.sub(" ", _FOLD.sub(" ", text)).strip()


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
