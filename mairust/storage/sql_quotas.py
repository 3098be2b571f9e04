"""Mailbox quotas in the SQL metadata store: setting a mailbox's limit, and the usage
counter that the entry store moves in its own transactions.

``mailboxes.used_bytes`` is a counter, not a SUM over entries: storing an entry adds its
size and purging one takes it off (``add_usage``, inside the caller's transaction), so
reading a mailbox's usage is one row, whatever the mailbox holds.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mairust.errors import InvalidInput, NotFound
from mairust.model.directory import Mailbox
from mairust.model.scope import Scope
from mairust.storage.sql_directory import _mailbox_scope, mailbox_from_row
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import mailboxes


class SqlQuotas:
    """The quota part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def set_mailbox_quota(self, scope: Scope, mailbox_id: str, quota_bytes: int | None) -> Mailbox:
        if quota_bytes is not None and quota_bytes < 0:
            raise InvalidInput("a quota is a number of bytes, 0 for unlimited")
        with self._db.write() as conn:
            changed = conn.execute(
                mailboxes.update()
                .where(mailboxes.c.id == mailbox_id, *_mailbox_scope(scope))
                .values(quota_bytes=quota_bytes)
            ).rowcount
            row = conn.execute(mailboxes.select().where(mailboxes.c.id == mailbox_id)).first()
        if changed == 0 or row is None:
            # Missing and another tenant's look the same (invariant 5).
            raise NotFound(f"no mailbox {mailbox_id!r}")
        return mailbox_from_row(row)


def add_usage(conn: Connection, deltas: Mapping[str, int]) -> None:
    """Move each mailbox's usage counter by its delta (bytes; negative when entries are
    purged), in ``conn``'s transaction. Never below zero, whatever a caller miscounts."""
    changes = [
        {"mailbox": mailbox_id, "delta": delta} for mailbox_id, delta in deltas.items() if delta
    ]
    if not changes:
        return
    used = mailboxes.c.used_bytes + sa.bindparam("delta", type_=sa.BigInteger)
    conn.execute(
        mailboxes.update()
        .where(mailboxes.c.id == sa.bindparam("mailbox"))
        .values(used_bytes=sa.case((used < 0, 0), else_=used)),
        changes,
    )
