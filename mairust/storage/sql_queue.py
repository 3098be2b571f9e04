"""Spool commits and the delivery queue in the SQL metadata store (invariant 2).

The database is the queue's truth: a row is leased for a while, and a lease that
expires puts the row back in play. Leasing selects then updates inside one write
transaction: ``BEGIN IMMEDIATE`` serialises it on SQLite, and the same SELECT
carries ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite compiles it to nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mairust.errors import Conflict, InvalidInput
from mairust.events import Event
from mairust.model.annotations import Annotations
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import RecipientState
from mairust.model.queue import QueueItem, QueueState
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_events import insert_events
from mairust.storage.sql_leases import release_leases_update
from mairust.storage.sql_schema import messages, outbound_recipients, queue

log = logging.getLogger(__name__)

_ITEM_COLUMNS = (
    queue,
    messages.c.size,
    messages.c.sha256,
    messages.c.blob_key,
    messages.c.annotations,
)


class SqlQueue:
    """The spool and queue part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def commit_messages(self, records: Sequence[SpoolRecord], events: Sequence[Event] = ()) -> None:
        if not records:
            if events:
                with self._db.write() as conn:
                    insert_events(conn, events)
            return
        try:
            with self._db.write() as conn:
                insert_spooled(conn, records, datetime.now(UTC))
                insert_events(conn, events)
        except Conflict as error:
            raise Conflict(f"a message of this batch is already committed: {error}") from error

    def lease_batch(self, owner: str, limit: int, lease_seconds: float) -> list[QueueItem]:
        if limit <= 0:
            return []
        now = datetime.now(UTC)
        with self._db.write() as conn:
            ids = _due_ids(conn, now, limit)
            if not ids:
                return []
            conn.execute(
                queue.update()
                .where(queue.c.id.in_(ids))
                .values(
                    state=QueueState.LEASED.value,
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=queue.c.attempts + 1,
                    updated_at=now,
                )
            )
            rows = conn.execute(_items().where(queue.c.id.in_(ids)).order_by(queue.c.id)).all()
        return [_item(row) for row in rows]

    def ack(self, item_ids: Sequence[int], owner: str) -> int:
        if not item_ids:
            return 0
        with self._db.write() as conn:
            result = conn.execute(
                _owned(list(item_ids), owner).values(
                    state=QueueState.DONE.value,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=datetime.now(UTC),
                )
            )
        return result.rowcount

    def defer(self, item_id: int, owner: str, error: str, retry_at: datetime) -> None:
        with self._db.write() as conn:
            result = conn.execute(
                _owned([item_id], owner).values(
                    state=QueueState.QUEUED.value,
                    next_attempt_at=retry_at,
                    last_error=error,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=datetime.now(UTC),
                )
            )
        if result.rowcount == 0:
            log.warning("defer of queue row %s ignored: not leased by %s", item_id, owner)

    def fail(self, item_id: int, owner: str, error: str) -> None:
        with self._db.write() as conn:
            result = conn.execute(
                _owned([item_id], owner).values(
                    state=QueueState.FAILED.value,
                    last_error=error,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=datetime.now(UTC),
                )
            )
        if result.rowcount == 0:
            log.warning("fail of queue row %s ignored: not leased by %s", item_id, owner)

    def settle(
        self,
        owner: str,
        done: Sequence[int] = (),
        deferred: Sequence[tuple[int, str, datetime]] = (),
        failed: Sequence[tuple[int, str]] = (),
        events: Sequence[tuple[int, Event]] = (),
    ) -> None:
        if not (done or deferred or failed):
            return
        now = datetime.now(UTC)
        released = {"lease_owner": None, "lease_until": None, "updated_at": now}
        with self._db.write() as conn:
            # Events only of the rows this owner still holds: a batch settled twice (a lost
            # answer, a lease that expired and was taken over) tells its story once.
            held = set(_held(conn, sorted({item_id for item_id, _ in events}), owner))
            if done:
                conn.execute(
                    _owned(list(done), owner).values(state=QueueState.DONE.value, **released)
                )
            for item_id, error, retry_at in deferred:
                conn.execute(
                    _owned([item_id], owner).values(
                        state=QueueState.QUEUED.value,
                        next_attempt_at=retry_at,
                        last_error=error,
                        **released,
                    )
                )
            for item_id, error in failed:
                conn.execute(
                    _owned([item_id], owner).values(
                        state=QueueState.FAILED.value, last_error=error, **released
                    )
                )
            insert_events(conn, [event for item_id, event in events if item_id in held])

    def release_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        update = release_leases_update(
            queue, QueueState.LEASED.value, QueueState.QUEUED.value, owner_prefix, keep_owner
        )
        with self._db.write() as conn:
            return conn.execute(update).rowcount

    def oldest_due_at(self, now: datetime) -> datetime | None:
        # Two MIN()s: the first is answered from ix_queue_state_next_attempt_at; leased rows
        # are few (batches in flight), so the second scans little.
        with self._db.read() as conn:
            queued = conn.execute(
                sa.select(sa.func.min(queue.c.next_attempt_at)).where(
                    queue.c.state == QueueState.QUEUED.value, queue.c.next_attempt_at <= now
                )
            ).scalar_one()
            expired = conn.execute(
                sa.select(sa.func.min(queue.c.lease_until)).where(
                    queue.c.state == QueueState.LEASED.value, queue.c.lease_until <= now
                )
            ).scalar_one()
        moments = [moment for moment in (queued, expired) if moment is not None]
        return min(moments) if moments else None

    def list_queue(self, state: QueueState | None = None, limit: int = 100) -> list[QueueItem]:
        query = _items().order_by(queue.c.id).limit(limit)
        if state is not None:
            query = query.where(queue.c.state == state.value)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [_item(row) for row in rows]

    def referenced_blob_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(messages.c.blob_key).where(messages.c.blob_key.in_(list(keys))).distinct()
            ).all()
        return {row.blob_key for row in rows}

    def due_queue_rows(self, now: datetime) -> int:
        due = sa.or_(
            sa.and_(queue.c.state == QueueState.QUEUED.value, queue.c.next_attempt_at <= now),
            sa.and_(queue.c.state == QueueState.LEASED.value, queue.c.lease_until <= now),
        )
        with self._db.read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(queue).where(due))
            return int(count.scalar_one())

    def queue_counts(self) -> dict[QueueState, int]:
        counts = dict.fromkeys(QueueState, 0)
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(queue.c.state, sa.func.count()).group_by(queue.c.state)
            ).all()
        for state, count in rows:
            counts[QueueState(state)] = count
        return counts

    def message_envelopes(self, message_ids: Sequence[str]) -> dict[str, Envelope]:
        wanted = list(dict.fromkeys(message_ids))
        columns = (
            messages.c.id,
            messages.c.mail_from,
            messages.c.rcpt_tos,
            messages.c.received_at,
            messages.c.helo,
            messages.c.client_ip,
            messages.c.authenticated_as,
        )
        found: dict[str, Envelope] = {}
        with self._db.read() as conn:
            for start in range(0, len(wanted), 500):  # far below any parameter limit
                chunk = wanted[start : start + 500]
                for row in conn.execute(sa.select(*columns).where(messages.c.id.in_(chunk))):
                    found[row.id] = Envelope(
                        mail_from=row.mail_from,
                        rcpt_tos=tuple(row.rcpt_tos),
                        received_at=row.received_at,
                        helo=row.helo,
                        client_ip=row.client_ip,
                        authenticated_as=row.authenticated_as,
                    )
        return found


def _due_ids(conn: Connection, now: datetime, limit: int) -> list[int]:
    """Ids to lease: expired leases first (they are the oldest work), then due rows."""
    expired = (
        sa.select(queue.c.id)
        .where(queue.c.state == QueueState.LEASED.value, queue.c.lease_until <= now)
        .order_by(queue.c.lease_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(expired).scalars())
    if len(ids) < limit:
        due = (
            sa.select(queue.c.id)
            .where(queue.c.state == QueueState.QUEUED.value, queue.c.next_attempt_at <= now)
            .order_by(queue.c.next_attempt_at, queue.c.id)
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        )
        ids.extend(conn.execute(due).scalars())
    return ids


def _held(conn: Connection, item_ids: list[int], owner: str) -> list[int]:
    """Those of ``item_ids`` that ``owner`` holds (leased), in this transaction."""
    if not item_ids:
        return []
    query = sa.select(queue.c.id).where(
        queue.c.id.in_(item_ids),
        queue.c.state == QueueState.LEASED.value,
        queue.c.lease_owner == owner,
    )
    return list(conn.execute(query.with_for_update()).scalars())


def _owned(item_ids: list[int], owner: str) -> sa.Update:
    """An UPDATE of the rows among ``item_ids`` that ``owner`` still holds."""
    return queue.update().where(
        queue.c.id.in_(item_ids),
        queue.c.state == QueueState.LEASED.value,
        queue.c.lease_owner == owner,
    )


def _items() -> sa.Select[Any]:
    return sa.select(*_ITEM_COLUMNS).join(messages, messages.c.id == queue.c.message_id)


def _item(row: sa.Row[Any]) -> QueueItem:
    return QueueItem(
        id=row.id,
        message=MessageRef(
            id=row.message_id, size=row.size, sha256=row.sha256, blob_key=row.blob_key
        ),
        recipient=row.recipient,
        state=QueueState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        last_error=row.last_error,
        annotations=Annotations.from_json(row.annotations),
    )


def insert_spooled(conn: Connection, records: Sequence[SpoolRecord], now: datetime) -> None:
    """Insert the spool ``records`` on ``conn`` (inside the caller's transaction): each
    message row, a QUEUED row per local recipient, an outbound row per remote one, and the
    records' events. The spool's commit and the delivery loop's DSNs both come here."""
    message_rows: list[dict[str, Any]] = []
    queue_rows: list[dict[str, Any]] = []
    outbound_rows: list[dict[str, Any]] = []
    for record in records:
        envelope = record.envelope
        message_rows.append(
            {
                "id": record.ref.id,
                "blob_key": record.ref.blob_key,
                "sha256": record.ref.sha256,
                "size": record.ref.size,
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "helo": envelope.helo,
                "client_ip": envelope.client_ip,
                "authenticated_as": envelope.authenticated_as,
                "received_at": envelope.received_at,
                "auth_results": record.auth_results,
                "annotations": record.annotations.to_json()
                if record.annotations != Annotations()
                else None,
            }
        )
        remote = {recipient.rcpt: recipient for recipient in record.remote}
        # A recipient given twice in one envelope is delivered once.
        for address in dict.fromkeys(envelope.rcpt_tos):
            outbound = remote.pop(address, None)
            if outbound is None:
                queue_rows.append(
                    {
                        "message_id": record.ref.id,
                        "recipient": address,
                        "state": QueueState.QUEUED.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "updated_at": now,
                    }
                )
                continue
            outbound_rows.append(
                {
                    "message_id": record.ref.id,
                    "tenant_id": outbound.tenant_id,
                    "mail_from": envelope.mail_from
                    if outbound.mail_from is None
                    else outbound.mail_from,
                    "recipient": outbound.address,
                    "destination": outbound.destination,
                    "relay_host": outbound.relay_host,
                    "notify": outbound.notify or None,
                    "orcpt": outbound.orcpt,
                    "ret": record.dsn_ret,
                    "envid": record.dsn_envid,
                    "state": RecipientState.SCHEDULED.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if remote:
            raise InvalidInput(f"remote recipients not in the envelope: {sorted(remote)}")
    conn.execute(messages.insert(), message_rows)
    if queue_rows:
        conn.execute(queue.insert(), queue_rows)
    if outbound_rows:
        conn.execute(outbound_recipients.insert(), outbound_rows)
    insert_events(conn, [event for record in records for event in record.events])
