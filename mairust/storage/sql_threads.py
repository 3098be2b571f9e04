"""Reading threads from the SQL metadata store: one thread's entries, and a mailbox's
threads newest first. Each is one query: a range of ``ix_entries_mailbox_thread_received``
for a thread; for the listing, a walk of the listing index that probes the thread index
once per entry it passes, and stops when the page is full.

Threads are computed when entries are stored (``sql_thread_links``); here they are only
read, through the same Scope rules as every entry (invariant 5).
"""

from __future__ import annotations

import sqlalchemy as sa

from mairust.model.mailbox import MailboxEntry, ThreadSummary
from mairust.model.scope import Scope
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import _entries, _entry, _entry_in_scope, _scope_conditions
from mairust.storage.sql_schema import entries

# A thread is rarely longer than a few hundred messages; hostile References can merge
# more, and one read must stay bounded.
THREAD_LIMIT = 1000


class SqlThreads:
    """The thread part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def thread_of(
        self, scope: Scope, entry_id: str, limit: int = THREAD_LIMIT
    ) -> list[MailboxEntry]:
        with self._db.read() as conn:
            entry = _entry_in_scope(conn, scope, entry_id)
            query = (
                _entries()
                .where(
                    entries.c.mailbox_id == entry.mailbox_id,
                    entries.c.thread_id == entry.thread_id,
                    *_scope_conditions(scope),
                )
                .order_by(entries.c.received_at, entries.c.id)
                .limit(limit)
            )
            return [_entry(row) for row in conn.execute(query)]

    def list_threads(
        self,
        scope: Scope,
        mailbox_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[ThreadSummary]:
        if limit <= 0:
            return []
        conditions = _scope_conditions(scope)
        if mailbox_id is not None:
            conditions.append(entries.c.mailbox_id == mailbox_id)
        # Walk the scope's entries newest first (the listing indexes) and keep those that
        # are the newest of their thread: each test is one probe of the thread index, and
        # the walk stops once a page is full, so a page costs about its own rows, not the
        # mailbox. The count is computed for the rows kept only.
        other = entries.alias("other")
        same_thread = (
            other.c.mailbox_id == entries.c.mailbox_id,
            other.c.thread_id == entries.c.thread_id,
        )
        newer = (
            sa.select(other.c.id)
            .where(
                *same_thread,
                other.c.received_at >= entries.c.received_at,
                sa.or_(other.c.received_at > entries.c.received_at, other.c.id > entries.c.id),
            )
            .exists()
        )
        size = (
            sa.select(sa.func.count())
            .select_from(other)
            .where(*same_thread)
            .scalar_subquery()
            .label("thread_size")
        )
        query = _entries().add_columns(size).where(*conditions, ~newer)
        with self._db.read() as conn:
            if before is not None:
                # The cursor is the newest entry of the last thread of the previous page.
                cursor = _entry_in_scope(conn, scope, before)
                query = query.where(
                    entries.c.received_at <= cursor.received_at,
                    sa.or_(
                        entries.c.received_at < cursor.received_at,
                        entries.c.id < cursor.id,
                    ),
                )
            rows = conn.execute(
                query.order_by(entries.c.received_at.desc(), entries.c.id.desc()).limit(limit)
            ).all()
        return [
            ThreadSummary(thread_id=row.thread_id, latest=_entry(row), count=int(row.thread_size))
            for row in rows
        ]
