"""The event log in the SQL metadata store: written in the transactions that made each
event true, read through the tenant.

:func:`insert_events` is called inside the spool's group commit and the pipeline's settle
(one multi-row INSERT per transaction, never a transaction per event). Every read goes
through a :class:`~mairust.model.scope.Scope` in the query itself (invariant 5): events
belong to the tenant, so a user's scope (one mailbox) sees none, and another tenant's
event is simply not there. Pages go newest first with the event id as the cursor, like
the audit log; a trace goes oldest first (the story of one message).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, assert_never

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mairust.errors import InvalidInput, NotFound
from mairust.events import Event, RecordType
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import events

_V = events.c
# A trace is the story of one message (or one recipient): bounded all the same.
MAX_TRACE = 1000


def insert_events(conn: Connection, batch: Sequence[Event]) -> None:
    """Insert ``batch`` on ``conn`` (inside the caller's transaction), unpublished."""
    if not batch:
        return
    conn.execute(events.insert(), [_row(event) for event in batch])


def _row(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "tenant_id": event.tenant_id,
        "type": event.kind.value,
        "at": event.at,
        "message_id": event.message_id,
        "header_message_id": event.header_message_id,
        "recipient": event.recipient,
        "reply": event.reply,
        "detail": dict(event.detail) if event.detail else None,
        "published": False,
    }


def _scoped(scope: Scope) -> sa.ColumnElement[bool]:
    match scope:
        case PlatformScope():
            return sa.true()
        case TenantScope(tenant_id=tenant_id, mailbox_id=None):
            return _V.tenant_id == tenant_id
        case TenantScope():
            return sa.false()
        case _:
            assert_never(scope)


class SqlEvents:
    """The event part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def append_events(self, batch: Sequence[Event]) -> None:
        if not batch:
            return
        with self._db.write() as conn:
            insert_events(conn, batch)

    def list_events(
        self,
        scope: Scope,
        kinds: Sequence[RecordType] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Event]:
        query = events.select().where(_scoped(scope))
        if kinds:
            query = query.where(_V.type.in_([kind.value for kind in kinds]))
        if since is not None:
            query = query.where(_V.at >= since)
        if until is not None:
            query = query.where(_V.at < until)
        with self._db.read() as conn:
            if before is not None:
                cursor = conn.execute(
                    sa.select(_V.at, _V.id).where(_V.id == before, _scoped(scope))
                ).first()
                if cursor is None:
                    raise NotFound(f"no event {before!r}")
                # The first term bounds the index range; the second breaks ties by id.
                query = query.where(
                    _V.at <= cursor.at,
                    sa.or_(_V.at < cursor.at, _V.id < cursor.id),
                )
            rows = conn.execute(query.order_by(_V.at.desc(), _V.id.desc()).limit(limit)).all()
        return [_event(row) for row in rows]

    def trace_events(
        self,
        scope: Scope,
        message_id: str | None = None,
        header_message_id: str | None = None,
        recipient: str | None = None,
        limit: int = MAX_TRACE,
    ) -> list[Event]:
        given = [value for value in (message_id, header_message_id, recipient) if value]
        if len(given) != 1:
            raise InvalidInput("a trace is by one of: queue id, Message-ID, recipient")
        with self._db.read() as conn:
            if message_id:
                condition: sa.ColumnElement[bool] = _V.message_id == message_id
            elif recipient:
                condition = _V.recipient == recipient
            else:
                # Events that name the header, and every event of the queue ids they name
                # (a failure before the message was parsed does not know its header).
                ids = conn.execute(
                    sa.select(_V.message_id)
                    .where(
                        _V.header_message_id == header_message_id,
                        _V.message_id.is_not(None),
                        _scoped(scope),
                    )
                    .distinct()
                    .limit(limit)
                ).scalars()
                queue_ids = list(ids)
                condition = _V.header_message_id == header_message_id
                if queue_ids:
                    condition = sa.or_(condition, _V.message_id.in_(queue_ids))
            rows = conn.execute(
                events.select().where(condition, _scoped(scope)).order_by(_V.at, _V.id).limit(limit)
            ).all()
        return [_event(row) for row in rows]

    def unpublished_events(self, limit: int) -> list[Event]:
        with self._db.read() as conn:
            rows = conn.execute(
                events.select().where(sa.not_(_V.published)).order_by(_V.id).limit(limit)
            ).all()
        return [_event(row) for row in rows]

    def mark_events_published(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        with self._db.write() as conn:
            conn.execute(events.update().where(_V.id.in_(list(event_ids))).values(published=True))


def _event(row: sa.Row[Any]) -> Event:
    return Event(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=RecordType(row.type),
        at=row.at,
        message_id=row.message_id,
        header_message_id=row.header_message_id,
        recipient=row.recipient,
        reply=row.reply,
        detail=row.detail,
    )
