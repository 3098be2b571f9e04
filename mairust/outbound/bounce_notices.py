"""The delivery loop's bounce hooks made of this package's pure parts: :class:`DsnNotices`
is its ``BounceNotices`` (one RFC 3464 DSN per message from the leased rows and their last
replies: "failed" for bounces, "delayed" for long deferrals) and
:func:`classify_remote_reply` its ``BounceClassifier``.

A reply with no ``host`` is the loop's own account of a failure (a DNS failure, a refused
connection, a body it could not read): the DSN says so in an ``x-mairust`` diagnostic
rather than putting it in a remote server's mouth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mairust.model.outbound import OutboundItem
from mairust.outbound.bounce_class import classify_reply
from mairust.outbound.delivery import RemoteReply
from mairust.outbound.dsn import (
    DEFAULT_MAX_RETURNED_BYTES,
    Dsn,
    OriginalEnvelope,
    RecipientOutcome,
    Reporter,
    build_dsn,
)
from mairust.outbound.dsn_fields import DsnAction, find_status

# RFC 3463 X.4.7: the message was too old; what an expiry reports when the last reply
# carried no status of its own.
_EXPIRED = "4.4.7"
_PERMANENT = "5.0.0"
_TEMPORARY = "4.0.0"


class DsnNotices:
    """``BounceNotices`` for the delivery loop: the DSN's bytes, or None when none is owed
    (a null reverse path, NOTIFY=NEVER or asking for no failures)."""

    def __init__(
        self, reporting_mta: str, max_returned_bytes: int = DEFAULT_MAX_RETURNED_BYTES
    ) -> None:
        self._reporter = Reporter(reporting_mta, max_returned_bytes)

    def notice(
        self,
        original: bytes,
        bounced: Sequence[tuple[OutboundItem, RemoteReply, bool]],
        now: datetime,
    ) -> bytes | None:
        if not bounced:
            return None
        outcomes = [outcome_of(item, reply, expired, now) for item, reply, expired in bounced]
        return self._dsn(original, bounced[0][0], outcomes, now)

    def delay_notice(
        self,
        original: bytes,
        delayed: Sequence[tuple[OutboundItem, RemoteReply, datetime]],
        now: datetime,
    ) -> bytes | None:
        if not delayed:
            return None
        # RFC 3461 section 4.3 ties RET to failed DSNs; a delayed one returns the same
        # part (the original or its headers) so the sender knows which message it is.
        outcomes = [delayed_outcome_of(item, reply, until, now) for item, reply, until in delayed]
        return self._dsn(original, delayed[0][0], outcomes, now)

    def _dsn(
        self, original: bytes, first: OutboundItem, outcomes: list[RecipientOutcome], now: datetime
    ) -> bytes | None:
        """The DSN for one message's recipients (``first`` carries its envelope)."""
        envelope = OriginalEnvelope(
            first.mail_from, envid=first.envid, ret=first.ret, arrival_date=first.created_at
        )
        result = build_dsn(original, envelope, outcomes, self._reporter, now=now)
        return result.message if isinstance(result, Dsn) else None


def outcome_of(
    item: OutboundItem, reply: RemoteReply, expired: bool, now: datetime
) -> RecipientOutcome:
    """A bounced row as a DSN reports it: action ``failed``, the reply's enhanced status
    when it fits (a 5.x.x, or for an expiry the 4.x.x it kept getting), else a generic one."""
    status = find_status(reply.enhanced or "") or find_status(reply.text[:12])
    wanted = ("4", "5") if expired else ("5",)
    if status is None or status[0] not in wanted:
        status = _EXPIRED if expired else _PERMANENT
    diagnostic = f"smtp; {reply}" if reply.host else f"x-mairust; {reply.text or reply}"
    return RecipientOutcome(
        final_recipient=item.recipient,
        action=DsnAction.FAILED,
        status=status,
        original_recipient=item.orcpt,
        notify=item.notify,
        remote_mta=reply.host,
        diagnostic=diagnostic,
        last_attempt=now,
    )


def delayed_outcome_of(
    item: OutboundItem, reply: RemoteReply, until: datetime, now: datetime
) -> RecipientOutcome:
    """A deferred row as a delay DSN reports it: action ``delayed``, the reply's 4.x.x
    status (else a generic one), retried until ``until``. The caller has found that its
    NOTIFY (or our default for none) asks for it, so the outcome says DELAY."""
    status = find_status(reply.enhanced or "") or find_status(reply.text[:12])
    if status is None or status[0] != "4":
        status = _TEMPORARY
    diagnostic = f"smtp; {reply}" if reply.host else f"x-mairust; {reply.text or reply}"
    return RecipientOutcome(
        final_recipient=item.recipient,
        action=DsnAction.DELAYED,
        status=status,
        original_recipient=item.orcpt,
        notify=("DELAY",),
        remote_mta=reply.host,
        diagnostic=diagnostic,
        last_attempt=now,
        will_retry_until=until,
    )


def classify_remote_reply(reply: RemoteReply) -> str | None:
    """``BounceClassifier``: the bounce class of a failed reply (None for a delivery)."""
    if reply.delivered:
        return None
    return classify_reply(reply.code, reply.enhanced, reply.text).bounce_class.value
