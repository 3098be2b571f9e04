"""The tenant events of a settled batch: Delivery, TransientFailure, Bounce, Expiration,
Discard (a pre_delivery hook dropped the copy).

Built from the rows' outcomes and written by the settle transaction itself (one INSERT
for the batch), so an event is kept exactly when the outcome it tells is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.threads import normalised_msg_id
from mairust.pipeline.work import Deferred, Delivered, Discarded, Outcome, RecipientWork
from mairust.routing.router import (
    AliasTargets,
    LocalMailbox,
    Outbound,
    UnknownUser,
    mailboxes_of,
)


def tenant_events(
    works: list[RecipientWork],
    outcomes: dict[int, Outcome],
    retry_at: dict[int, datetime],
    expired: set[int],
    now: datetime,
    tenant_of: Callable[[str], str | None],
) -> list[tuple[int, Event]]:
    """(row id, event): one event per row (two for a row that expired: Expiration, then
    Bounce), each in its recipient's tenant; rows whose tenant cannot be told are left to
    the log."""
    kept: list[tuple[int, Event]] = []
    for work in works:
        item = work.item
        tenant_id = _tenant(work) or tenant_of(item.recipient)
        if tenant_id is None:
            continue
        parsed = work.message.parsed
        header_id = normalised_msg_id(parsed.message_id) if parsed is not None else None
        outcome = outcomes[item.id]
        base = Event(
            id="",
            tenant_id=tenant_id,
            kind=RecordType.DELIVERY,
            at=now,
            message_id=item.message.id,
            header_message_id=header_id,
            recipient=item.recipient,
        )

        if isinstance(outcome, Delivered):
            detail: dict[str, Any] = {"attempts": item.attempts}
            if work.entries:
                # One entry per mailbox the route delivered to (an alias has several).
                detail |= {
                    "entry_ids": [entry.id for entry in work.entries],
                    "folders": [entry.folder for entry in work.entries],
                }
            kept.append((item.id, _made(base, RecordType.DELIVERY, detail)))
        elif isinstance(outcome, Discarded):
            detail = {"reason": outcome.reason, "by": outcome.by, "attempts": item.attempts}
            kept.append((item.id, _made(base, RecordType.DISCARD, detail)))
        elif isinstance(outcome, Deferred):
            detail = {"reason": outcome.reason, "attempts": item.attempts}
            detail |= _retry(retry_at, item.id)
            kept.append((item.id, _made(base, RecordType.TRANSIENT_FAILURE, detail)))
        else:
            detail = {"reason": outcome.reason, "attempts": item.attempts}
            if item.id in expired:
                kept.append((item.id, _made(base, RecordType.EXPIRATION, detail)))
            kept.append((item.id, _made(base, RecordType.BOUNCE, detail)))
    return kept


def _made(base: Event, kind: RecordType, detail: dict[str, Any]) -> Event:
    return replace(base, id=new_id(), kind=kind, detail=detail)


def _tenant(work: RecipientWork) -> str | None:
    if work.entries:
        return work.entries[0].tenant_id
    if isinstance(work.route, LocalMailbox | AliasTargets):
        return mailboxes_of(work.route)[0].tenant_id
    if isinstance(work.route, UnknownUser | Outbound):
        return work.route.tenant_id
    return None


def _retry(retry_at: dict[int, datetime], item_id: int) -> dict[str, Any]:
    at = retry_at.get(item_id)
    return {"retry_at": at.isoformat()} if at is not None else {}
