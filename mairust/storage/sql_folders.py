"""Folders and purges in the SQL metadata store: a mailbox's folders with their counts,
creating, renaming and deleting one, removing entries for good (``purge_entries``), and
finding Trash and Junk entries past their retention.

Folders are names on entries; the ``folders`` table only keeps those a user created, so an
empty one still lists. Everything goes through a Scope: another tenant's mailbox or entry is
NotFound (invariant 5). Which folders are the system's, and may not change, is the
service's rule (mairust.services.mailboxes), not the store's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mairust.errors import Conflict, NotFound
from mairust.model.folders import FolderCount, Purged
from mairust.model.queue import QueueState
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import _scope_conditions
from mairust.storage.sql_quotas import add_usage
from mairust.storage.sql_schema import (
    entries,
    folders,
    mailboxes,
    messages,
    queue,
    search_backlog,
    thread_links,
)

_CHUNK = 500  # ids per IN (...), far below every dialect's parameter limit
_LIVE = (QueueState.QUEUED.value, QueueState.LEASED.value)


class SqlFolders:
    """The folder and purge part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def folder_counts(self, scope: Scope, mailbox_id: str) -> list[FolderCount]:
        unread = sa.func.sum(sa.case((entries.c.seen == sa.false(), 1), else_=0))
        query = (
            sa.select(entries.c.folder, sa.func.count(), unread)
            .where(entries.c.mailbox_id == mailbox_id, *_scope_conditions(scope))
            .group_by(entries.c.folder)
        )
        with self._db.read() as conn:
            _mailbox_tenant(conn, scope, mailbox_id)
            counts = {
                row[0]: FolderCount(row[0], int(row[1]), int(row[2] or 0))
                for row in conn.execute(query)
            }
            for name in conn.execute(
                sa.select(folders.c.name).where(folders.c.mailbox_id == mailbox_id)
            ).scalars():
                counts.setdefault(name, FolderCount(name, 0, 0))
        return sorted(counts.values(), key=lambda folder: folder.name)

    def create_folder(self, scope: Scope, mailbox_id: str, name: str) -> None:
        with self._db.write() as conn:
            tenant_id = _mailbox_tenant(conn, scope, mailbox_id)
            if _folder_exists(conn, mailbox_id, name):
                raise Conflict(f"folder {name!r} exists")
            _remember(conn, tenant_id, mailbox_id, name)

    def rename_folder(self, scope: Scope, mailbox_id: str, old: str, new: str) -> list[str]:
        """Moves every entry of ``old`` to ``new`` in one transaction; the ids moved."""
        with self._db.write() as conn:
            tenant_id = _mailbox_tenant(conn, scope, mailbox_id)
            if not _folder_exists(conn, mailbox_id, old):
                raise NotFound(f"no folder {old!r}")
            if _folder_exists(conn, mailbox_id, new):
                raise Conflict(f"folder {new!r} exists")
            in_old = (entries.c.mailbox_id == mailbox_id, entries.c.folder == old)
            moved = list(conn.execute(sa.select(entries.c.id).where(*in_old)).scalars())
            conn.execute(
                entries.update().where(*in_old).values(folder=new, moved_at=datetime.now(UTC))
            )
            conn.execute(folders.delete().where(*_named(mailbox_id, old)))
            _remember(conn, tenant_id, mailbox_id, new)
            return moved

    def delete_folder(self, scope: Scope, mailbox_id: str, name: str) -> None:
        """Only an empty folder: Conflict while an entry is in it."""
        with self._db.write() as conn:
            _mailbox_tenant(conn, scope, mailbox_id)
            held = conn.execute(
                sa.select(entries.c.id)
                .where(entries.c.mailbox_id == mailbox_id, entries.c.folder == name)
                .limit(1)
            ).first()
            if held is not None:
                raise Conflict(f"folder {name!r} is not empty")
            if conn.execute(folders.delete().where(*_named(mailbox_id, name))).rowcount == 0:
                raise NotFound(f"no folder {name!r}")

    def purge_entries(
        self, scope: Scope, entry_ids: Sequence[str], folder: str | None = None
    ) -> Purged:
        """Removes those of ``entry_ids`` in the scope (and in ``folder`` when given) with
        their thread links and backlog rows; a message no entry and no live queue row needs
        any more goes too, with its finished queue rows. Returns the blob keys that no
        message row names any more, all decided in this one transaction."""
        wanted = list(dict.fromkeys(entry_ids))
        with self._db.write() as conn:
            found: dict[str, str] = {}
            freed: dict[str, int] = {}  # mailbox id -> bytes its purged entries took
            for chunk in _chunks(wanted):
                query = sa.select(
                    entries.c.id, entries.c.message_id, entries.c.mailbox_id, entries.c.size
                ).where(entries.c.id.in_(chunk), *_scope_conditions(scope))
                if folder is not None:
                    query = query.where(entries.c.folder == folder)
                for row in conn.execute(query):
                    found[row.id] = row.message_id
                    freed[row.mailbox_id] = freed.get(row.mailbox_id, 0) + row.size
            ids = list(found)
            for chunk in _chunks(ids):
                conn.execute(thread_links.delete().where(thread_links.c.entry_id.in_(chunk)))
                conn.execute(search_backlog.delete().where(search_backlog.c.entry_id.in_(chunk)))
                conn.execute(entries.delete().where(entries.c.id.in_(chunk)))
            # The quota counters move in the same transaction as the entries they count.
            add_usage(conn, {mailbox: -size for mailbox, size in freed.items()})
            keys = _drop_unneeded_messages(conn, sorted(set(found.values())))
        return Purged(tuple(ids), tuple(sorted(keys)))

    def expired_entry_ids(self, folder: str, cutoff: datetime, limit: int = 500) -> list[str]:
        """Entries of every tenant that arrived in ``folder`` before ``cutoff`` (their
        ``moved_at``; ``received_at`` for one delivered there)."""
        arrived_before = sa.or_(
            entries.c.moved_at < cutoff,
            sa.and_(entries.c.moved_at.is_(None), entries.c.received_at < cutoff),
        )
        query = (
            sa.select(entries.c.id)
            .where(entries.c.folder == folder, arrived_before)
            .order_by(entries.c.id)
            .limit(limit)
        )
        with self._db.read() as conn:
            return list(conn.execute(query).scalars())


def _drop_unneeded_messages(conn: Connection, message_ids: list[str]) -> set[str]:
    """Deletes the messages among ``message_ids`` that nothing needs; their blob keys no
    other message row names. The queue is read before the entries: a delivery stores its
    entry before it marks its queue row done, so a row seen done has its entry visible."""
    live: set[str] = set()
    entered: set[str] = set()
    for chunk in _chunks(message_ids):
        live.update(
            conn.execute(
                sa.select(queue.c.message_id).where(
                    queue.c.message_id.in_(chunk), queue.c.state.in_(_LIVE)
                )
            ).scalars()
        )
    for chunk in _chunks(message_ids):
        entered.update(
            conn.execute(
                sa.select(entries.c.message_id).where(entries.c.message_id.in_(chunk))
            ).scalars()
        )
    unneeded = [message_id for message_id in message_ids if message_id not in live | entered]
    keys: set[str] = set()
    for chunk in _chunks(unneeded):
        keys.update(
            conn.execute(sa.select(messages.c.blob_key).where(messages.c.id.in_(chunk))).scalars()
        )
        conn.execute(queue.delete().where(queue.c.message_id.in_(chunk)))
        conn.execute(messages.delete().where(messages.c.id.in_(chunk)))
    named: set[str] = set()
    for chunk in _chunks(sorted(keys)):
        named.update(
            conn.execute(
                sa.select(messages.c.blob_key).where(messages.c.blob_key.in_(chunk))
            ).scalars()
        )
    return keys - named


def _mailbox_tenant(conn: Connection, scope: Scope, mailbox_id: str) -> str:
    query = sa.select(mailboxes.c.tenant_id).where(mailboxes.c.id == mailbox_id)
    match scope:
        case TenantScope(tenant_id=tenant_id, mailbox_id=confined):
            query = query.where(mailboxes.c.tenant_id == tenant_id)
            if confined is not None:
                query = query.where(mailboxes.c.id == confined)
        case PlatformScope():
            pass
    found = conn.execute(query).scalar()
    if found is None:
        raise NotFound(f"no such mailbox: {mailbox_id}")
    return str(found)


def _named(mailbox_id: str, name: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (folders.c.mailbox_id == mailbox_id, folders.c.name == name)


def _folder_exists(conn: Connection, mailbox_id: str, name: str) -> bool:
    remembered = sa.select(folders.c.name).where(*_named(mailbox_id, name))
    held = sa.select(entries.c.id).where(
        entries.c.mailbox_id == mailbox_id, entries.c.folder == name
    )
    return (
        conn.execute(remembered.limit(1)).first() is not None
        or conn.execute(held.limit(1)).first() is not None
    )


def _remember(conn: Connection, tenant_id: str, mailbox_id: str, name: str) -> None:
    row: dict[str, Any] = {
        "mailbox_id": mailbox_id,
        "name": name,
        "tenant_id": tenant_id,
        "created_at": datetime.now(UTC),
    }
    conn.execute(folders.insert().values(**row))


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[start : start + _CHUNK]) for start in range(0, len(ids), _CHUNK)]
