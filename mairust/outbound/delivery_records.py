"""The records one delivery attempt makes: the tenant's events (kept by the settle's
transaction) and the one structured log line, from one table of attempt result → records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from mairust.events import Event, RecordType, record
from mairust.model.ids import new_id
from mairust.model.outbound import AttemptResult, DeliveryAttempt, OutboundItem

# An expiry is told twice to the tenant (Expiration, then the Bounce it makes); the log's
# one line names the first.
RECORDS: Mapping[AttemptResult, Sequence[RecordType]] = {
    AttemptResult.DELIVERED: (RecordType.DELIVERY,),
    AttemptResult.DEFERRED: (RecordType.TRANSIENT_FAILURE,),
    AttemptResult.BOUNCED: (RecordType.BOUNCE,),
    AttemptResult.EXPIRED: (RecordType.EXPIRATION, RecordType.BOUNCE),
}


def tenant_events(
    item: OutboundItem,
    attempt: DeliveryAttempt,
    retry_at: datetime | None,
    now: datetime,
    delay_notified: Mapping[int, datetime] | None = None,
) -> list[Event]:
    """The events of ``attempt`` in its recipient's tenant (none without a tenant). A
    deferral whose "delayed" DSN went out now (``delay_notified``: row id → until when it
    is retried) says so in its TransientFailure event's detail (the message trace)."""
    if item.tenant_id is None:
        return []
    detail: dict[str, object] = {
        "outbound": True,
        "attempts": item.attempts,
        "destination": item.destination,
        "remote_host": attempt.host,
    }
    if retry_at is not None:
        detail["retry_at"] = retry_at.isoformat()
    if attempt.bounce_class:
        detail["bounce_class"] = attempt.bounce_class
    until = (delay_notified or {}).get(item.id)
    if until is not None:
        detail["delay_dsn"] = True
        detail["will_retry_until"] = until.isoformat()
    return [
        Event(
            id=new_id(),
            tenant_id=item.tenant_id,
            kind=kind,
            at=now,
            message_id=item.message.id,
            recipient=item.recipient,
            reply=attempt.reply,
            detail=detail,
        )
        for kind in RECORDS[attempt.result]
    ]


def log_record(
    item: OutboundItem,
    attempt: DeliveryAttempt,
    retry_at: datetime | None,
    delay_notified_until: datetime | None = None,
) -> None:
    """The one structured log line of ``attempt`` (with ``will_retry_until`` when a
    "delayed" DSN went out with it)."""
    extra = {"will_retry_until": delay_notified_until.isoformat()} if delay_notified_until else {}
    record(
        RECORDS[attempt.result][0],
        message_id=item.message.id,
        recipient=item.recipient,
        destination=item.destination,
        reply=attempt.reply,
        host=attempt.host,
        attempts=item.attempts,
        retry_at=retry_at.isoformat() if retry_at else None,
        **extra,
    )
