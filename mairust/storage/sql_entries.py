"""Mailbox entries in the SQL metadata store, every read and write through a Scope:
storing them (threaded at store time, see ``sql_thread_links``), listing them with
filters, their tags, folder and flags.

An entry of another tenant is indistinguishable from a missing one (invariant 5).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, assert_never

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from mairust.auth.results import AuthResults
from mairust.errors import InvalidInput, NotFound
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry, NewEntry
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.model.search_query import AUTH_FILTER_KEYS
from mairust.model.threads import ThreadHeaders
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_quotas import add_usage
from mairust.storage.sql_schema import entries, mailboxes, messages
from mairust.storage.sql_thread_links import link_threads

# Both dialects spell "insert, or nothing on a duplicate key" as ON CONFLICT DO NOTHING.
UPSERT_INSERTS: dict[str, Callable[[sa.Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}
_ID_CHUNK = 500  # stays far below every dialect's bound-parameter limit


class SqlEntries:
    """The mailbox-entry part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def store_entry(self, entry: NewEntry) -> MailboxEntry:
        [stored] = self.store_entries([entry])
        if stored is None:
            raise NotFound(
                f"no mailbox {entry.mailbox_id} in tenant {entry.tenant_id}, "
                f"or no message {entry.message_id}"
            )
        return stored

    def store_entries(self, new_entries: Sequence[NewEntry]) -> list[MailboxEntry | None]:
        if not new_entries:
            return []
        mailbox_ids = list({entry.mailbox_id for entry in new_entries})
        message_ids = list({entry.message_id for entry in new_entries})
        with self._db.write() as conn:
            # Locked in id order (no deadlock between batches): threading reads what the
            # previous batch of the same mailbox wrote. FOR NO KEY UPDATE on PostgreSQL,
            # which still lets foreign-key checks in; SQLite's write lock covers it.
            owners = dict(
                conn.execute(
                    sa.select(mailboxes.c.id, mailboxes.c.tenant_id)
                    .where(mailboxes.c.id.in_(mailbox_ids))
                    .order_by(mailboxes.c.id)
                    .with_for_update(key_share=True)
                ).all()
            )
            spooled = {
                row.id: row
                for row in conn.execute(
                    sa.select(messages.c.id, messages.c.received_at, messages.c.auth_results).where(
                        messages.c.id.in_(message_ids)
                    )
                )
            }
            storable = [
                entry
                for entry in new_entries
                if owners.get(entry.mailbox_id) == entry.tenant_id and entry.message_id in spooled
            ]
            rows = [
                _entry_row(
                    entry,
                    spooled[entry.message_id].received_at,
                    spooled[entry.message_id].auth_results,
                )
                for entry in storable
            ]
            if rows:
                insert = UPSERT_INSERTS[self._db.dialect](entries).on_conflict_do_nothing(
                    index_elements=["mailbox_id", "message_id"]
                )
                conn.execute(insert, rows)
            keys = [(entry.mailbox_id, entry.message_id) for entry in storable]
            found: dict[tuple[str, str], MailboxEntry] = {}
            for start in range(0, len(keys), _ID_CHUNK):
                chunk = keys[start : start + _ID_CHUNK]
                query = _entries().where(
                    sa.tuple_(entries.c.mailbox_id, entries.c.message_id).in_(chunk)
                )
                for row in conn.execute(query):
                    found[(row.mailbox_id, row.message_id)] = _entry(row)
            # Only the rows inserted now are threaded: one that was there already (a row
            # run twice) kept its id, not the one made for it here.
            inserted = [
                (found[key], entry.thread)
                for key, entry, row in zip(keys, storable, rows, strict=True)
                if key in found and found[key].id == row["id"]
            ]
            renames = link_threads(conn, inserted)
            # The quota counters move with the rows, in this transaction (sql_quotas).
            usage: dict[str, int] = {}
            for stored_entry, _ in inserted:
                usage[stored_entry.mailbox_id] = (
                    usage.get(stored_entry.mailbox_id, 0) + stored_entry.size
                )
            add_usage(conn, usage)
        for key, stored in found.items():
            if stored.thread_id in renames:
                found[key] = dataclasses.replace(stored, thread_id=renames[stored.thread_id])
        return [found.get((entry.mailbox_id, entry.message_id)) for entry in new_entries]

    def get_entry(self, scope: Scope, entry_id: str) -> MailboxEntry:
        with self._db.read() as conn:
            return _entry_in_scope(conn, scope, entry_id)

    def get_entries(self, scope: Scope, entry_ids: Sequence[str]) -> list[MailboxEntry]:
        wanted = list(dict.fromkeys(entry_ids))
        found: dict[str, MailboxEntry] = {}
        with self._db.read() as conn:
            for start in range(0, len(wanted), _ID_CHUNK):
                chunk = wanted[start : start + _ID_CHUNK]
                query = _scoped(_entries().where(entries.c.id.in_(chunk)), scope)
                found.update((row.id, _entry(row)) for row in conn.execute(query))
        return [found[entry_id] for entry_id in entry_ids if entry_id in found]

    def list_entries(
        self,
        scope: Scope,
        mailbox_id: str | None = None,
        folder: str | None = None,
        limit: int = 50,
        before: str | None = None,
        *,
        from_addr: str | None = None,
        tag: str | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        unread: bool | None = None,
        flagged: bool | None = None,
        auth: Mapping[str, str] | None = None,
        except_folder: str | None = None,
    ) -> list[MailboxEntry]:
        if limit <= 0:
            return []
        query = _scoped(_entries(), scope)
        if mailbox_id is not None:
            query = query.where(entries.c.mailbox_id == mailbox_id)
        if folder is not None:
            query = query.where(entries.c.folder == folder)
        if except_folder is not None:
            query = query.where(entries.c.folder != except_folder)
        if from_addr is not None:
            query = query.where(_from_matches(from_addr))
        if tag is not None:
            query = query.where(self._has_tag(tag))
        if received_after is not None:
            query = query.where(entries.c.received_at >= received_after)
        if received_before is not None:
            query = query.where(entries.c.received_at < received_before)
        if unread is not None:
            query = query.where(entries.c.seen == (not unread))
        if flagged is not None:
            query = query.where(entries.c.flagged == flagged)
        query = query.where(*_auth_conditions(auth or {}))
        if before is not None:
            # The cursor's time in the same statement (uncorrelated: evaluated once). The
            # first term bounds the index range; the second breaks ties by id.
            cursor_time = (
                _scoped(sa.select(entries.c.received_at).where(entries.c.id == before), scope)
                .correlate(None)
                .scalar_subquery()
            )
            query = query.where(
                entries.c.received_at <= cursor_time,
                sa.or_(entries.c.received_at < cursor_time, entries.c.id < before),
            )
        with self._db.read() as conn:
            rows = conn.execute(
                query.order_by(entries.c.received_at.desc(), entries.c.id.desc()).limit(limit)
            ).all()
            if not rows and before is not None:
                # An empty page: the end of the listing, or a cursor not in the scope.
                _entry_in_scope(conn, scope, before)
        return [_entry(row) for row in rows]

    def _has_tag(self, tag: str) -> sa.ColumnElement[bool]:
        """The tags' JSON text holds ``tag`` as a whole element: every quote inside a JSON
        string is escaped, so an unescaped ``"`` after ``[`` or ``, `` starts an element.
        Found with instr/strpos, case-sensitive on both dialects (SQLite's LIKE is not)."""
        element = json.dumps(tag.strip(), ensure_ascii=False)
        text = sa.type_coerce(entries.c.tags, sa.Text)
        find = sa.func.instr if self._db.dialect == "sqlite" else sa.func.strpos
        return sa.or_(
            sa.func.substr(text, 1, len(element) + 1) == "[" + element,
            find(text, ", " + element) > 0,
        )

    def count_entries(self, scope: Scope) -> int:
        query = _scoped(sa.select(sa.func.count()).select_from(entries), scope)
        with self._db.read() as conn:
            return int(conn.execute(query).scalar() or 0)

    def count_entries_for_message(self, message_id: str) -> int:
        with self._db.read() as conn:
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(entries)
                .where(entries.c.message_id == message_id)
            ).scalar()
        return int(count or 0)

    def set_tags(
        self, scope: Scope, entry_id: str, add: Sequence[str], remove: Sequence[str]
    ) -> MailboxEntry:
        dropped = {tag.strip() for tag in remove}
        with self._db.write() as conn:
            current = _entry_in_scope(conn, scope, entry_id)
            added = (tag.strip() for tag in add)
            merged = dict.fromkeys((*current.tags, *(tag for tag in added if tag)))
            tags = tuple(tag for tag in merged if tag not in dropped)
            if tags != current.tags:
                conn.execute(entries.update().where(entries.c.id == entry_id).values(tags=tags))
            return _entry_in_scope(conn, scope, entry_id)

    def set_flags(
        self,
        scope: Scope,
        entry_id: str,
        seen: bool | None = None,
        flagged: bool | None = None,
    ) -> MailboxEntry:
        changes = {
            name: value
            for name, value in (("seen", seen), ("flagged", flagged))
            if value is not None
        }
        with self._db.write() as conn:
            if not changes:
                return _entry_in_scope(conn, scope, entry_id)
            changed = conn.execute(_scoped_update(entry_id, scope).values(**changes)).rowcount
            if changed == 0:
                raise NotFound(f"no such entry: {entry_id}")
            return _entry_in_scope(conn, scope, entry_id)

    def move_entry(self, scope: Scope, entry_id: str, folder: str) -> MailboxEntry:
        target = folder.strip()
        if not target:
            raise InvalidInput("a folder needs a name")
        with self._db.write() as conn:
            # moved_at only changes with the folder: Trash retention counts from arrival.
            arrived = sa.case(
                (entries.c.folder == target, entries.c.moved_at), else_=datetime.now(UTC)
            )
            update = _scoped_update(entry_id, scope).values(folder=target, moved_at=arrived)
            moved = conn.execute(update).rowcount
            if moved == 0:
                raise NotFound(f"no such entry: {entry_id}")
            return _entry_in_scope(conn, scope, entry_id)


def _from_matches(value: str) -> sa.ColumnElement[bool]:
    """An address, or ``@domain`` for every sender at that domain; case-insensitive
    (from_addr is stored lower-cased)."""
    wanted = value.strip().lower()
    if not wanted.startswith("@"):
        return entries.c.from_addr == wanted
    length = sa.func.length(entries.c.from_addr)
    return sa.and_(
        length >= len(wanted),
        sa.func.substr(entries.c.from_addr, length - len(wanted) + 1) == wanted,
    )


_AUTH_COLUMNS = {method: entries.c[f"auth_{method}"] for method in AUTH_FILTER_KEYS}


def _auth_conditions(auth: Mapping[str, str]) -> list[sa.ColumnElement[bool]]:
    unknown = sorted(set(auth) - set(_AUTH_COLUMNS))
    if unknown:
        raise InvalidInput(f"unknown auth filter(s) {unknown}; known: {list(_AUTH_COLUMNS)}")
    return [_AUTH_COLUMNS[method] == word.strip().lower() for method, word in auth.items()]


def _entry_row(
    entry: NewEntry, received_at: datetime, auth_results: dict[str, Any] | None
) -> dict[str, Any]:
    entry_id = new_id()
    words = AuthResults.from_json(auth_results).summary_words() if auth_results else {}
    return {
        "id": entry_id,
        "tenant_id": entry.tenant_id,
        "mailbox_id": entry.mailbox_id,
        "message_id": entry.message_id,
        "folder": entry.folder,
        "tags": tuple(dict.fromkeys(entry.tags)),
        "subject": entry.subject,
        "from_addr": entry.from_addr,
        "to_addrs": entry.to_addrs,
        "date": entry.date,
        "size": entry.size,
        "received_at": received_at,
        # Alone in its own thread until link_threads finds the ones it belongs with.
        "thread_id": entry_id,
        "header_message_id": entry.thread.message_id,
        "header_in_reply_to": entry.thread.in_reply_to,
        "header_references": entry.thread.references,
        **{f"auth_{method}": words.get(method) for method in AUTH_FILTER_KEYS},
    }


def _entries() -> sa.Select[Any]:
    return (
        sa.select(
            entries,
            mailboxes.c.address.label("mailbox_address"),
            messages.c.blob_key,
            messages.c.auth_results,
        )
        .join(mailboxes, mailboxes.c.id == entries.c.mailbox_id)
        .join(messages, messages.c.id == entries.c.message_id)
    )


def _scope_conditions(scope: Scope) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions that confine entries to ``scope`` (none for the platform)."""
    match scope:
        case TenantScope(tenant_id=tenant_id, mailbox_id=None):
            return [entries.c.tenant_id == tenant_id]
        case TenantScope(tenant_id=tenant_id, mailbox_id=mailbox_id):
            return [entries.c.tenant_id == tenant_id, entries.c.mailbox_id == mailbox_id]
        case PlatformScope():
            return []
        case _:
            assert_never(scope)


def _scoped(query: sa.Select[Any], scope: Scope) -> sa.Select[Any]:
    return query.where(*_scope_conditions(scope))


def _scoped_update(entry_id: str, scope: Scope) -> sa.Update:
    return entries.update().where(entries.c.id == entry_id, *_scope_conditions(scope))


def _entry_in_scope(conn: Connection, scope: Scope, entry_id: str) -> MailboxEntry:
    row = conn.execute(_scoped(_entries().where(entries.c.id == entry_id), scope)).first()
    if row is None:
        raise NotFound(f"no such entry: {entry_id}")
    return _entry(row)


def _entry(row: sa.Row[Any]) -> MailboxEntry:
    # By key through the row's mapping: a third of the cost of attribute access, which
    # counts for pages of 50 rows of 20 columns (the API's listings).
    column = row._mapping
    return MailboxEntry(
        id=column["id"],
        tenant_id=column["tenant_id"],
        mailbox_id=column["mailbox_id"],
        mailbox_address=column["mailbox_address"],
        message_id=column["message_id"],
        folder=column["folder"],
        tags=column["tags"],
        subject=column["subject"],
        from_addr=column["from_addr"],
        to_addrs=column["to_addrs"],
        date=column["date"],
        size=column["size"],
        received_at=column["received_at"],
        blob_key=column["blob_key"],
        auth_results=column["auth_results"],
        thread_id=column["thread_id"],
        thread=ThreadHeaders(
            message_id=column["header_message_id"],
            in_reply_to=column["header_in_reply_to"],
            references=column["header_references"],
        ),
        seen=column["seen"],
        flagged=column["flagged"],
    )
