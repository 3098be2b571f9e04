"""The leases of the leased tables: handing back (the one UPDATE the queue, the webhook
outbox and the hook jobs use when a loop starts and takes back what an earlier run of it
still held), and, for the outbox and the hook jobs, which rows are due and leasing them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def release_leases_update(
    table: sa.Table, leased: str, free: str, owner_prefix: str, keep_owner: str | None
) -> sa.Update:
    """Rows of ``table`` in state ``leased`` whose ``lease_owner`` starts with
    ``owner_prefix`` (except ``keep_owner``'s) back to ``free``, their lease cleared.
    An empty prefix is a ValueError: it would match every owner."""
    if not owner_prefix:
        raise ValueError("releasing leases needs an owner prefix (an empty one matches all)")
    # substr, not LIKE: exact and case-sensitive on both dialects, no escaping of _ or %.
    held = sa.func.substr(table.c.lease_owner, 1, len(owner_prefix)) == owner_prefix
    condition = sa.and_(table.c.state == leased, held)
    if keep_owner is not None:
        condition = sa.and_(condition, table.c.lease_owner != keep_owner)
    return (
        table.update()
        .where(condition)
        .values(state=free, lease_owner=None, lease_until=None, updated_at=datetime.now(UTC))
    )


def due_ids(
    conn: Connection,
    table: sa.Table,
    *,
    leased: str,
    pending: str,
    now: datetime,
    limit: int,
    where: Sequence[sa.ColumnElement[bool]] = (),
) -> list[str]:
    """Ids of ``table`` to lease now, locked (``SKIP LOCKED``: two leasers never share a
    row): expired leases first (a loop that died), then due rows by ``next_attempt_at``;
    ``where`` narrows both (the outbox's enabled endpoints)."""
    c = table.c
    expired = (
        sa.select(c.id)
        .where(c.state == leased, c.lease_until <= now, *where)
        .order_by(c.lease_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(expired).scalars())
    if len(ids) < limit:
        due = (
            sa.select(c.id)
            .where(c.state == pending, c.next_attempt_at <= now, *where)
            .order_by(c.next_attempt_at, c.id)
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        )
        ids.extend(conn.execute(due).scalars())
    return ids


def lease_update(
    table: sa.Table, ids: Sequence[str], *, leased: str, owner: str, until: datetime, now: datetime
) -> sa.Update:
    """The rows ``ids`` leased to ``owner`` until ``until``, one more attempt counted."""
    c = table.c
    return (
        table.update()
        .where(c.id.in_(ids))
        .values(
            state=leased,
            lease_owner=owner,
            lease_until=until,
            attempts=c.attempts + 1,
            updated_at=now,
        )
    )
