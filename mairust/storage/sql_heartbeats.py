"""Heartbeats of background loops in the SQL metadata store.

A loop that runs in one process (the dispatcher's lease loop in its actor) tells the
others (the API's health check) that it is alive by writing when it last made
progress; one row per loop and instance, overwritten in place.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import UPSERT_INSERTS
from mairust.storage.sql_schema import loop_heartbeats


class SqlLoopHeartbeats:
    """The heartbeat part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def record_heartbeat(self, loop: str, instance: str, at: datetime) -> None:
        insert = UPSERT_INSERTS[self._db.dialect](loop_heartbeats).values(
            loop=loop, instance=instance, beat_at=at.astimezone(UTC)
        )
        with self._db.write() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["loop", "instance"], set_={"beat_at": insert.excluded.beat_at}
                )
            )

    def last_heartbeat(self, loop: str) -> datetime | None:
        query = sa.select(sa.func.max(loop_heartbeats.c.beat_at)).where(
            loop_heartbeats.c.loop == loop
        )
        with self._db.read() as conn:
            beat: datetime | None = conn.execute(query).scalar_one()
        return beat
