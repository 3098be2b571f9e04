"""Outbound recipients: one row per (message, remote recipient), their closed set of states,
and the attempts that moved them (what the message trace shows).

A message accepted for remote recipients (authenticated submission, the send API, a DSN we
make) gets one :class:`OutboundItem` per recipient at the spool's commit, in the same
transaction as the message row (the 250 promise covers it). The delivery loop leases due
rows, groups them by destination, and settles each with an :class:`AttemptOutcome`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from mairust.model.message import MessageRef


class RecipientState(enum.StrEnum):
    """Where one outbound recipient stands (Stalwart's per-recipient ``Status``)."""

    SCHEDULED = "scheduled"  # not tried yet; due at next_attempt_at
    DEFERRED = "deferred"  # tried, failed for now; due again at next_attempt_at
    LEASED = "leased"  # a delivery loop holds it until lease_until
    DELIVERED = "delivered"  # the remote MTA answered 250 for it (final)
    BOUNCED = "bounced"  # failed for good, or expired: a DSN was made if one was due (final)
    HELD = "held"  # an operator put it on hold; never due until released


# States a row is due from (next_attempt_at <= now), and the ones that never change again.
PENDING_STATES: frozenset[RecipientState] = frozenset(
    {RecipientState.SCHEDULED, RecipientState.DEFERRED}
)
FINAL_STATES: frozenset[RecipientState] = frozenset(
    {RecipientState.DELIVERED, RecipientState.BOUNCED}
)


class AttemptResult(enum.StrEnum):
    """What one attempt did to one recipient."""

    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    EXPIRED = "expired"


def destination_of(recipient: str, relay_host: str | None) -> str:
    """The ready queue a recipient waits in: its relay host when a rule names one
    (``relay:host:port``), else its domain (lower case; MX resolution happens at delivery)."""
    if relay_host:
        return f"relay:{relay_host}"
    return recipient.rpartition("@")[2].lower()


@dataclass(frozen=True, slots=True)
class RemoteRecipient:
    """A recipient the spool hands to the outbound queue rather than the local pipeline."""

    address: str
    tenant_id: str | None = None
    relay_host: str | None = None
    # RFC 3461: NOTIFY (empty: the default, failures only), ORCPT as given.
    notify: tuple[str, ...] = ()
    orcpt: str | None = None
    # A forward (or a bounce to an SRS address): the envelope recipient this row stands
    # for when it is not ``address``, and the reverse path when it is not the envelope's
    # (the SRS address of a forwarded copy). None: the envelope's own.
    envelope_recipient: str | None = None
    mail_from: str | None = None

    @property
    def destination(self) -> str:
        return destination_of(self.address, self.relay_host)

    @property
    def rcpt(self) -> str:
        """The envelope recipient this row is made for."""
        return self.envelope_recipient or self.address


@dataclass(frozen=True, slots=True)
class OutboundItem:
    """One outbound recipient row as leased by the delivery loop."""

    id: int
    message: MessageRef
    mail_from: str
    recipient: str
    destination: str
    state: RecipientState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    tenant_id: str | None = None
    relay_host: str | None = None
    notify: tuple[str, ...] = ()
    orcpt: str | None = None
    ret: str | None = None
    envid: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_reply: str | None = None
    bounce_class: str | None = None
    # When its one "delayed" DSN was made (None: none yet); never a second one.
    delay_notified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at one recipient: when, where to, what came back (the message trace)."""

    recipient_id: int
    message_id: str
    recipient: str
    at: datetime
    result: AttemptResult
    reply: str
    host: str | None = None
    address: str | None = None
    bounce_class: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How the delivery loop settles one leased row: the attempt, and for a deferral when
    to try again."""

    attempt: DeliveryAttempt
    retry_at: datetime | None = None
    # A deferral whose "delayed" DSN is made in this settle (the row remembers it).
    delay_notified: bool = False

    @property
    def item_id(self) -> int:
        return self.attempt.recipient_id


@dataclass(frozen=True, slots=True)
class OutboundCounts:
    """Rows per state, the pending ones per destination, and of those the deferred ones
    (tried and failed for now) per destination (queue views, metrics, the dashboard)."""

    by_state: dict[RecipientState, int] = field(default_factory=dict)
    pending_by_destination: dict[str, int] = field(default_factory=dict)
    deferred_by_destination: dict[str, int] = field(default_factory=dict)


class QueueAction(enum.StrEnum):
    """What an operator may do to waiting outbound recipients (never to leased ones: a
    delivery in flight is left to finish)."""

    HOLD = "hold"  # scheduled/deferred → held: never due until released
    RELEASE = "release"  # held → scheduled/deferred, due now
    RETRY = "retry"  # scheduled/deferred/held → due now (a held one is released)
    BOUNCE = "bounce"  # waiting → bounced, with an attempt saying the operator did it
    DELETE = "delete"  # waiting → gone, with its attempts (no DSN, no delivery)


@dataclass(frozen=True, slots=True)
class OutboundSelection:
    """Which outbound rows an operation means: every given criterion must hold, and at
    least one of ``ids``, ``message_id`` or ``destination`` must be given."""

    ids: tuple[int, ...] = ()
    message_id: str | None = None
    destination: str | None = None
    # Set by the service from the caller's scope, never by the caller.
    tenant_id: str | None = None

    @property
    def empty(self) -> bool:
        return not self.ids and self.message_id is None and self.destination is None
