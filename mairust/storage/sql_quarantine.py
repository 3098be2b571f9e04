"""Held mail in the SQL metadata store: where a held message goes when released (its
accept-time annotations), and the release itself, which moves the entry out of Quarantine
and writes its ``QuarantineReleased`` event in one transaction (so the event is kept
exactly when the release is)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from mairust.errors import Conflict
from mairust.events import Event
from mairust.model.annotations import Annotations
from mairust.model.folders import QUARANTINE
from mairust.model.mailbox import MailboxEntry
from mairust.model.scope import Scope
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import _ID_CHUNK, _entry_in_scope, _scoped_update
from mairust.storage.sql_events import insert_events
from mairust.storage.sql_schema import entries, messages


class SqlQuarantine:
    """The quarantine part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def message_annotations(self, message_ids: Sequence[str]) -> dict[str, Annotations]:
        wanted = list(dict.fromkeys(message_ids))
        found: dict[str, Annotations] = {}
        with self._db.read() as conn:
            for start in range(0, len(wanted), _ID_CHUNK):
                query = sa.select(messages.c.id, messages.c.annotations).where(
                    messages.c.id.in_(wanted[start : start + _ID_CHUNK])
                )
                for row in conn.execute(query):
                    found[row.id] = Annotations.from_json(row.annotations)
        return found

    def release_entry(self, scope: Scope, entry_id: str, folder: str, event: Event) -> MailboxEntry:
        with self._db.write() as conn:
            update = (
                _scoped_update(entry_id, scope)
                .where(entries.c.folder == QUARANTINE)
                .values(folder=folder, moved_at=datetime.now(UTC))
            )
            if conn.execute(update).rowcount == 0:
                _entry_in_scope(conn, scope, entry_id)  # NotFound outside the scope
                raise Conflict(f"entry {entry_id} is not in {QUARANTINE}")
            insert_events(conn, [event])
            return _entry_in_scope(conn, scope, entry_id)
