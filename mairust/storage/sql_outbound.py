"""The outbound queue in the SQL metadata store: remote recipients leased, settled with
their attempts, and the DSNs bounces make, each round in one transaction.

Leasing works as for the message queue (``sql_queue``): select then update inside one write
transaction (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), an
expired lease puts a row back in play, and only the lease's owner settles a row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from mairust.events import Event
from mairust.model.message import MessageRef, SpoolRecord
from mairust.model.outbound import (
    PENDING_STATES,
    AttemptOutcome,
    AttemptResult,
    DeliveryAttempt,
    OutboundCounts,
    OutboundItem,
    OutboundSelection,
    QueueAction,
    RecipientState,
)
from mairust.model.suppression import Suppression, suppression_key
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_events import insert_events
from mairust.storage.sql_queue import insert_spooled
from mairust.storage.sql_schema import messages, outbound_attempts, outbound_recipients
from mairust.storage.sql_suppressions import insert_suppressions

_R = outbound_recipients.c
_A = outbound_attempts.c
_PENDING = [state.value for state in PENDING_STATES]
_LEASED = RecipientState.LEASED.value


class SqlOutbound:
    """The outbound part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def lease_outbound(
        self, owner: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[OutboundItem]:
        if limit <= 0:
            return []
        with self._db.write() as conn:
            ids = _due_ids(conn, now, limit)
            if not ids:
                return []
            conn.execute(
                outbound_recipients.update()
                .where(_R.id.in_(ids))
                .values(
                    state=_LEASED,
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=_R.attempts + 1,
                    updated_at=now,
                )
            )
            rows = conn.execute(
                _items().where(_R.id.in_(ids)).order_by(_R.destination, _R.message_id, _R.id)
            ).all()
        return [_item(row) for row in rows]

    def settle_outbound(
        self,
        owner: str,
        now: datetime,
        delivered: Sequence[AttemptOutcome] = (),
        deferred: Sequence[AttemptOutcome] = (),
        bounced: Sequence[AttemptOutcome] = (),
        dsns: Sequence[tuple[str, SpoolRecord]] = (),
        events: Sequence[Event] = (),
        suppress: Sequence[Suppression] = (),
    ) -> int:
        outcomes = [*delivered, *deferred, *bounced]
        if not outcomes and not dsns and not events:
            return 0
        with self._db.write() as conn:
            held = set(
                conn.execute(
                    sa.select(_R.id).where(
                        _R.id.in_([outcome.item_id for outcome in outcomes]),
                        _R.state == _LEASED,
                        _R.lease_owner == owner,
                    )
                ).scalars()
            )
            # One statement for all the rows of a kind (executemany): a statement per row
            # cost the delivery loop more CPU than the SMTP session that delivered it.
            finished = [
                _settled_row(outcome, state, owner, now)
                for state, settled in (
                    (RecipientState.DELIVERED, delivered),
                    (RecipientState.BOUNCED, bounced),
                )
                for outcome in settled
                if outcome.item_id in held
            ]
            if finished:
                conn.execute(_SETTLE, finished)
            retried = [
                (
                    o.delay_notified,
                    {
                        **_settled_row(o, RecipientState.DEFERRED, owner, now),
                        "b_retry": o.retry_at or now,
                    },
                )
                for o in deferred
                if o.item_id in held
            ]
            # The delay DSN (in ``dsns``) and the mark that forbids a second one commit
            # together.
            for notified, statement in ((False, _SETTLE_DEFERRED), (True, _SETTLE_WARNED)):
                rows = [row for warned, row in retried if warned is notified]
                if rows:
                    conn.execute(statement, rows)
            kept = [outcome.attempt for outcome in outcomes if outcome.item_id in held]
            if kept:
                conn.execute(outbound_attempts.insert(), [_attempt_row(a) for a in kept])
            # A DSN tells of its original message's recipients: it is committed only by the
            # loop that settled them, so a round run twice makes no second DSN.
            settled_messages = {attempt.message_id for attempt in kept}
            fresh = [dsn for original, dsn in dsns if original in settled_messages]
            if fresh:
                insert_spooled(conn, fresh, now)
            insert_events(conn, [e for e in events if e.message_id in settled_messages])
            bounced_here = {
                suppression_key(o.attempt.recipient) for o in bounced if o.item_id in held
            }
            kept_suppressions = [e for e in suppress if suppression_key(e.address) in bounced_here]
            if kept_suppressions:
                insert_suppressions(conn, kept_suppressions)
        return len(held)

    def postpone_outbound(self, owner: str, item_ids: Sequence[int], until: datetime) -> int:
        if not item_ids:
            return 0
        untried = sa.case(
            (_R.attempts > 1, RecipientState.DEFERRED.value),
            else_=RecipientState.SCHEDULED.value,
        )
        with self._db.write() as conn:
            result = conn.execute(
                outbound_recipients.update()
                .where(_R.id.in_(list(item_ids)), _R.state == _LEASED, _R.lease_owner == owner)
                .values(
                    state=untried,
                    attempts=_R.attempts - 1,
                    next_attempt_at=until,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=datetime.now(UTC),
                )
            )
        return result.rowcount

    def release_outbound_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        if not owner_prefix:
            raise ValueError("releasing leases needs an owner prefix (an empty one matches all)")
        held = sa.func.substr(_R.lease_owner, 1, len(owner_prefix)) == owner_prefix
        condition = sa.and_(_R.state == _LEASED, held)
        if keep_owner is not None:
            condition = sa.and_(condition, _R.lease_owner != keep_owner)
        with self._db.write() as conn:
            # Tried before (attempts counts this lease too): DEFERRED; else SCHEDULED.
            pending = sa.case(
                (_R.attempts > 1, RecipientState.DEFERRED.value),
                else_=RecipientState.SCHEDULED.value,
            )
            result = conn.execute(
                outbound_recipients.update()
                .where(condition)
                .values(
                    state=pending,
                    lease_owner=None,
                    lease_until=None,
                    next_attempt_at=datetime.now(UTC),
                )
            )
        return result.rowcount

    def list_outbound(
        self,
        state: RecipientState | Sequence[RecipientState] | None = None,
        destination: str | None = None,
        message_id: str | None = None,
        tenant_id: str | None = None,
        limit: int = 100,
    ) -> list[OutboundItem]:
        query = _items()
        states = [state] if isinstance(state, RecipientState) else list(state or ())
        if states:
            query = query.where(_R.state.in_([s.value for s in states]))
        if destination is not None:
            query = query.where(_R.destination == destination)
        if message_id is not None:
            query = query.where(_R.message_id == message_id)
        if tenant_id is not None:
            query = query.where(_R.tenant_id == tenant_id)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(_R.id.desc()).limit(limit)).all()
        return [_item(row) for row in rows]

    def due_outbound_rows(self, now: datetime) -> int:
        due = sa.or_(
            sa.and_(_R.state.in_(_PENDING), _R.next_attempt_at <= now),
            sa.and_(_R.state == _LEASED, _R.lease_until <= now),
        )
        with self._db.read() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(outbound_recipients).where(due)
            ).scalar_one()
        return int(count)

    def outbound_counts(self) -> OutboundCounts:
        with self._db.read() as conn:
            by_state = conn.execute(sa.select(_R.state, sa.func.count()).group_by(_R.state)).all()
            pending = conn.execute(
                sa.select(_R.destination, sa.func.count())
                .where(_R.state.in_([*_PENDING, _LEASED]))
                .group_by(_R.destination)
            ).all()
            deferred = conn.execute(
                sa.select(_R.destination, sa.func.count())
                .where(_R.state == RecipientState.DEFERRED.value)
                .group_by(_R.destination)
            ).all()
        return OutboundCounts(
            by_state={RecipientState(state): count for state, count in by_state},
            pending_by_destination={destination: count for destination, count in pending},
            deferred_by_destination={destination: count for destination, count in deferred},
        )

    def outbound_attempts(self, message_id: str) -> list[DeliveryAttempt]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(outbound_attempts)
                .where(_A.message_id == message_id)
                .order_by(_A.at, _A.id)
            ).all()
        return [
            DeliveryAttempt(
                recipient_id=row.recipient_id,
                message_id=row.message_id,
                recipient=row.recipient,
                at=row.at,
                result=AttemptResult(row.result),
                reply=row.reply,
                host=row.host,
                address=row.address,
                bounce_class=row.bounce_class,
            )
            for row in rows
        ]

    def next_outbound_due(self) -> datetime | None:
        with self._db.read() as conn:
            pending = conn.execute(
                sa.select(sa.func.min(_R.next_attempt_at)).where(_R.state.in_(_PENDING))
            ).scalar()
            leased = conn.execute(
                sa.select(sa.func.min(_R.lease_until)).where(_R.state == _LEASED)
            ).scalar()
        moments = [moment for moment in (pending, leased) if moment is not None]
        return min(moments) if moments else None

    def record_remote_bounces(
        self,
        bounced: Sequence[DeliveryAttempt],
        now: datetime,
        suppress: Sequence[Suppression] = (),
    ) -> int:
        if not bounced:
            return 0
        changed: list[DeliveryAttempt] = []
        with self._db.write() as conn:
            for attempt in bounced:
                result = conn.execute(
                    outbound_recipients.update()
                    .where(
                        _R.id == attempt.recipient_id,
                        _R.state == RecipientState.DELIVERED.value,
                    )
                    .values(
                        state=RecipientState.BOUNCED.value,
                        last_reply=attempt.reply,
                        bounce_class=attempt.bounce_class,
                        updated_at=now,
                    )
                )
                if result.rowcount == 1:
                    changed.append(attempt)
            if changed:
                conn.execute(outbound_attempts.insert(), [_attempt_row(a) for a in changed])
            keys = {suppression_key(attempt.recipient) for attempt in changed}
            kept = [entry for entry in suppress if suppression_key(entry.address) in keys]
            if kept:
                insert_suppressions(conn, kept)
        return len(changed)

    def change_outbound(
        self,
        action: QueueAction,
        selection: OutboundSelection,
        now: datetime,
        reply: str = "",
        event_for: Callable[[OutboundItem], Event | None] | None = None,
    ) -> list[OutboundItem]:
        if selection.empty:
            raise ValueError("an outbound operation needs ids, a message or a destination")
        held = RecipientState.HELD.value
        allowed = {
            QueueAction.HOLD: _PENDING,
            QueueAction.RELEASE: [held],
        }.get(action, [*_PENDING, held])
        with self._db.write() as conn:
            query = _items().where(_R.state.in_(allowed), *_selected(selection))
            locked = query.with_for_update(of=outbound_recipients)
            rows = [_item(row) for row in conn.execute(locked).all()]
            ids = [item.id for item in rows]
            if not ids:
                return []
            change = outbound_recipients.update().where(_R.id.in_(ids))
            if action is QueueAction.DELETE:
                conn.execute(outbound_attempts.delete().where(_A.recipient_id.in_(ids)))
                conn.execute(outbound_recipients.delete().where(_R.id.in_(ids)))
            elif action is QueueAction.HOLD:
                conn.execute(change.values(state=held, updated_at=now))
            elif action is QueueAction.BOUNCE:
                conn.execute(
                    change.values(
                        state=RecipientState.BOUNCED.value, last_reply=reply, updated_at=now
                    )
                )
                conn.execute(
                    outbound_attempts.insert(),
                    [_attempt_row(_operator_bounce(item, reply, now)) for item in rows],
                )
            else:  # RELEASE, RETRY: due now, in the pending state they had
                pending = sa.case(
                    (_R.attempts > 0, RecipientState.DEFERRED.value),
                    else_=RecipientState.SCHEDULED.value,
                )
                conn.execute(change.values(state=pending, next_attempt_at=now, updated_at=now))
            if event_for is not None:
                insert_events(conn, [e for e in map(event_for, rows) if e is not None])
        return rows


def _selected(selection: OutboundSelection) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if selection.ids:
        conditions.append(_R.id.in_(selection.ids))
    if selection.message_id is not None:
        conditions.append(_R.message_id == selection.message_id)
    if selection.destination is not None:
        conditions.append(_R.destination == selection.destination)
    if selection.tenant_id is not None:
        conditions.append(_R.tenant_id == selection.tenant_id)
    return conditions


def _operator_bounce(item: OutboundItem, reply: str, now: datetime) -> DeliveryAttempt:
    return DeliveryAttempt(
        recipient_id=item.id,
        message_id=item.message.id,
        recipient=item.recipient,
        at=now,
        result=AttemptResult.BOUNCED,
        reply=reply,
        bounce_class="operator",
    )


def _due_ids(conn: Connection, now: datetime, limit: int) -> list[int]:
    """Ids to lease now, locked: expired leases first (a loop that died), then due rows."""
    expired = (
        sa.select(_R.id)
        .where(_R.state == _LEASED, _R.lease_until <= now)
        .order_by(_R.lease_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(expired).scalars())
    if len(ids) < limit:
        due = (
            sa.select(_R.id)
            .where(_R.state.in_(_PENDING), _R.next_attempt_at <= now)
            .order_by(_R.next_attempt_at, _R.id)
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        )
        ids.extend(conn.execute(due).scalars())
    return ids


def _settle_statement(**more: Any) -> sa.Update:
    """An attempt's end for one leased row, its values bound per row (``_settled_row``)."""
    return (
        outbound_recipients.update()
        .where(
            _R.id == sa.bindparam("b_id"),
            _R.state == _LEASED,
            _R.lease_owner == sa.bindparam("b_owner"),
        )
        .values(
            state=sa.bindparam("b_state"),
            last_reply=sa.bindparam("b_reply"),
            bounce_class=sa.bindparam("b_class"),
            lease_owner=None,
            lease_until=None,
            updated_at=sa.bindparam("b_now"),
            **more,
        )
    )


_SETTLE = _settle_statement()
_SETTLE_DEFERRED = _settle_statement(next_attempt_at=sa.bindparam("b_retry"))
_SETTLE_WARNED = _settle_statement(
    next_attempt_at=sa.bindparam("b_retry"), delay_notified_at=sa.bindparam("b_now")
)


def _settled_row(
    outcome: AttemptOutcome, state: RecipientState, owner: str, now: datetime
) -> dict[str, Any]:
    return {
        "b_id": outcome.item_id,
        "b_owner": owner,
        "b_state": state.value,
        "b_reply": outcome.attempt.reply,
        "b_class": outcome.attempt.bounce_class,
        "b_now": now,
    }


def _attempt_row(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "recipient_id": attempt.recipient_id,
        "message_id": attempt.message_id,
        "recipient": attempt.recipient,
        "at": attempt.at,
        "result": attempt.result.value,
        "reply": attempt.reply,
        "host": attempt.host,
        "address": attempt.address,
        "bounce_class": attempt.bounce_class,
    }


def _items() -> sa.Select[Any]:
    return sa.select(
        outbound_recipients, messages.c.size, messages.c.sha256, messages.c.blob_key
    ).join(messages, messages.c.id == _R.message_id)


def _item(row: Row[Any]) -> OutboundItem:
    return OutboundItem(
        id=row.id,
        message=MessageRef(
            id=row.message_id, size=row.size, sha256=row.sha256, blob_key=row.blob_key
        ),
        mail_from=row.mail_from,
        recipient=row.recipient,
        destination=row.destination,
        state=RecipientState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        tenant_id=row.tenant_id,
        relay_host=row.relay_host,
        notify=tuple(row.notify or ()),
        orcpt=row.orcpt,
        ret=row.ret,
        envid=row.envid,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        last_reply=row.last_reply,
        bounce_class=row.bounce_class,
        delay_notified_at=row.delay_notified_at,
    )
