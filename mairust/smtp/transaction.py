"""One SMTP transaction as the inbound handler sees it: the state it keeps from MAIL to the
end of DATA, the checks an envelope address must pass, the accepted ``Envelope``, the
client's address, and the one Rejection log line of each refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session

from mairust import events
from mairust.auth.checker import SenderCheck
from mairust.errors import InvalidInput
from mairust.model.address import normalize_address
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.model.outbound import RemoteRecipient
from mairust.model.parsing import without_controls
from mairust.model.policy import DomainPolicy
from mairust.smtp import replies

NULL_SENDER = "<>"
# RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254.
MAX_ADDRESS_LENGTH = 254


@dataclass(slots=True)
class Transaction:
    """What the handler keeps of one open transaction, from MAIL to the end of DATA."""

    # The SPF result made at MAIL, used at RCPT and DATA.
    sender_check: SenderCheck | None = None
    # The tenant of each accepted local recipient (whose event log records it).
    tenants: dict[str, str] = field(default_factory=dict)
    # The own policy of each recipient domain.
    policies: dict[str, DomainPolicy] = field(default_factory=dict)
    # An authenticated submitter's recipients that are not ours: the outbound queue's.
    remote: dict[str, RemoteRecipient] = field(default_factory=dict)
    # The recipients of ``remote`` that a routing rule forwards (SRS and ARC at DATA).
    forwarded: set[str] = field(default_factory=set)
    # RFC 3461 RET and ENVID of the MAIL command, for those recipients' DSNs.
    dsn: dict[str, str | None] = field(default_factory=dict)
    # The message's queue id if it is accepted; refusals are recorded under it too, so a
    # trace of the message shows them.
    id: str = field(default_factory=new_id)


@dataclass(frozen=True, slots=True)
class AddressRefusal:
    reply: str


def check_address(address: str, smtp_utf8: bool, malformed: str) -> str | AddressRefusal:
    """The normalised address, or the refusal that explains what is wrong with it."""
    if len(address.encode("utf-8", errors="surrogateescape")) > MAX_ADDRESS_LENGTH:
        return AddressRefusal(replies.ADDRESS_TOO_LONG)
    try:
        address.encode("utf-8")  # bytes that were not UTF-8 arrive as surrogates
        normalized = normalize_address(address)
    except (UnicodeEncodeError, InvalidInput):
        return AddressRefusal(malformed)
    if not normalized.isascii() and not smtp_utf8:
        return AddressRefusal(replies.NON_ASCII_NEEDS_SMTPUTF8)
    return normalized


def rejected(reply: str, stage: str, session: Session, **fields: Any) -> str:
    """``reply``, after the one Rejection log line for it."""
    events.record(
        events.RecordType.REJECTION,
        stage=stage,
        reply=reply,
        client=client_ip_of(session),
        **fields,
    )
    return reply


def accepted_envelope(session: Session, envelope: SmtpEnvelope) -> Envelope:
    """The transaction as the spool records it (our Envelope, not aiosmtpd's)."""
    mail_from = envelope.mail_from or ""
    identity = session.auth_data if session.authenticated else None
    return Envelope(
        mail_from="" if mail_from == NULL_SENDER else mail_from,
        rcpt_tos=tuple(envelope.rcpt_tos),
        received_at=datetime.now(UTC),
        helo=without_controls(session.host_name or ""),
        client_ip=client_ip_of(session),
        authenticated_as=identity if isinstance(identity, str) else None,
        mail_options=tuple(envelope.mail_options),
    )


def client_ip_of(session: Session) -> str:
    """The client's IP address as text ("" when the transport has no peer address)."""
    peer: Any = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")
