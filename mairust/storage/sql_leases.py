"""Handing back leases: the one UPDATE both leased tables (the queue and the webhook
outbox) use when a loop starts and takes back what an earlier run of it still held."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


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
