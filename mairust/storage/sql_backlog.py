"""The search backlog in the SQL metadata store: entries still to be indexed.

Kept with the entries (same store, same durability) so that an outage of the search
role never loses indexing work and never holds up delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import UPSERT_INSERTS
from mairust.storage.sql_schema import search_backlog


class SqlSearchBacklog:
    """The search-backlog part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def add_to_search_backlog(self, entry_ids: Sequence[str]) -> None:
        if not entry_ids:
            return
        now = datetime.now(UTC)
        insert = UPSERT_INSERTS[self._db.dialect](search_backlog).values(
            [{"entry_id": entry_id, "added_at": now} for entry_id in dict.fromkeys(entry_ids)]
        )
        with self._db.write() as conn:
            conn.execute(insert.on_conflict_do_nothing(index_elements=["entry_id"]))

    def search_backlog(self, limit: int = 500) -> list[str]:
        query = sa.select(search_backlog.c.entry_id).order_by(
            search_backlog.c.added_at, search_backlog.c.entry_id
        )
        with self._db.read() as conn:
            return list(conn.execute(query.limit(limit)).scalars())

    def remove_from_search_backlog(self, entry_ids: Sequence[str]) -> None:
        if not entry_ids:
            return
        with self._db.write() as conn:
            conn.execute(
                search_backlog.delete().where(search_backlog.c.entry_id.in_(list(entry_ids)))
            )

    def search_backlog_size(self) -> int:
        with self._db.read() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(search_backlog)).scalar_one()
            )
