"""``Fts5SearchIndex``: full-text search over mailbox entries in SQLite FTS5 (embedded role).

The index is derived data (rebuildable from the blobs), so it creates its own schema
on open and needs no migrations. A side table ``documents`` maps each entry id to
the FTS rowid and holds the scoping columns, so replacing or deleting one entry is
an indexed lookup rather than a scan of the FTS table.

User input never reaches FTS5 as syntax: every word and phrase of
:func:`mairust.model.search_query.search_terms` becomes a quoted string, so operators
(AND/OR/NOT, NEAR, ``*``, ``^``, column filters, parentheses) are searched as plain
words, and every term is required. Filters are SQL on the side table: labels and the
address keys of ``from:``/``to:`` are JSON arrays there (read with ``json_each``); a
``subject:`` filter is an FTS5 phrase limited to the subject column, in a subquery so
that it does not weigh in the rank (OpenSearch ranks it as a filter too).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from mairust.errors import InvalidInput, StorageUnavailable
from mairust.model.mailbox import SearchDocument, SearchHit, SearchPosition
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.model.search_query import (
    AUTH_FILTER_KEYS,
    SearchFilters,
    address_keys,
    search_filters,
    search_terms,
)

log = logging.getLogger(__name__)

_BUSY_TIMEOUT_SECONDS = 15.0
_SNIPPET_TOKENS = 12

# Bumped when the layout changes; an index of another layout is dropped and built anew
# (it is derived data).
_LAYOUT_VERSION = 3
_AUTH_COLUMNS = {key: f"auth_{key}" for key in AUTH_FILTER_KEYS}
# tags, from_keys, to_keys: JSON arrays of strings.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    rowid INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    mailbox_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    auth_spf TEXT, auth_dkim TEXT, auth_dmarc TEXT, auth_arc TEXT,
    folder TEXT NOT NULL,
    tags TEXT NOT NULL,
    from_keys TEXT NOT NULL,
    to_keys TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_tenant ON documents (tenant_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fulltext USING fts5(
    subject, from_addr, to_addrs, body,
    tokenize = 'unicode61 remove_diacritics 2'
);
"""


def fts5_query(text: str) -> str | None:
    """``text`` as an FTS5 query requiring every word and phrase; None if nothing in it
    is searchable (see :func:`mairust.model.search_query.search_terms`).

    Each term is quoted (inner quotes doubled), which makes it a phrase of its own
    tokens: ``foo-bar`` finds "foo bar", ``NEAR(`` finds "near".
    """
    terms = search_terms(text)
    if not terms:
        return None
    return " ".join(_fts5_phrase(term) for term in terms)


def _fts5_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _utc_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that ordering the text orders the times."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _position(after: SearchPosition) -> tuple[float, str, str]:
    """``after`` as this index makes positions: (rank, received_at text, entry id)."""
    match after:
        case (float() | int() as rank, str() as received, str() as entry_id):
            if not isinstance(rank, bool):
                return float(rank), received, entry_id
    raise InvalidInput("not a position in this search index's order")


def _filter_sql(filters: SearchFilters) -> tuple[list[str], list[str]]:
    """SQL conditions on ``documents AS d`` (our own column names only) and their values."""
    conditions: list[str] = []
    values: list[str] = []
    for key, value in sorted(filters.auth.items()):
        conditions.append(f"d.{_AUTH_COLUMNS[key]} = ?")
        values.append(value)
    for column, wanted in (
        ("from_keys", filters.from_key),
        ("to_keys", filters.to_key),
        ("tags", filters.tag),
    ):
        if wanted is not None:
            conditions.append(f"EXISTS (SELECT 1 FROM json_each(d.{column}) WHERE value = ?)")
            values.append(wanted)
    if filters.folder is not None:
        conditions.append("d.folder = ?")
        values.append(filters.folder)
    if filters.after is not None:
        conditions.append("d.received_at >= ?")
        values.append(_utc_text(filters.after))
    if filters.before is not None:
        conditions.append("d.received_at < ?")
        values.append(_utc_text(filters.before))
    if filters.subject is not None:
        conditions.append("d.rowid IN (SELECT rowid FROM fulltext WHERE fulltext MATCH ?)")
        values.append("subject : " + _fts5_phrase(filters.subject))
    return conditions, values


class Fts5SearchIndex:
    """Implements :class:`mairust.storage.protocols.SearchIndex`; thread- and process-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # transactions are explicit below
                check_same_thread=False,  # guarded by self._lock
            )
        except (OSError, sqlite3.Error) as error:
            raise StorageUnavailable(f"search index unusable at {self.path}: {error}") from error
        # True when an index of an older layout was dropped: its entries must be indexed again.
        self.needs_reindex = False
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    def _prepare(self) -> None:
        # Switching a new file to WAL needs a moment of exclusive access, which the busy
        # timeout does not cover: two processes opening a new index at once retry briefly.
        for attempt in range(50):
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 49:
                    raise StorageUnavailable(
                        f"search index unusable at {self.path}: {error}"
                    ) from error
                time.sleep(0.1)
        try:
            # Derived data: a lost last transaction is re-indexed, so no fsync per commit.
            self._conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as error:
            raise StorageUnavailable(f"search index unusable at {self.path}: {error}") from error
        with self._transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != _LAYOUT_VERSION:
                if version:
                    log.warning(
                        "search index %s has layout %s, not %s: dropped, to be re-indexed",
                        self.path,
                        version,
                        _LAYOUT_VERSION,
                    )
                    self.needs_reindex = True
                conn.execute("DROP TABLE IF EXISTS fulltext")
                conn.execute("DROP TABLE IF EXISTS documents")
                conn.execute(f"PRAGMA user_version = {_LAYOUT_VERSION}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)

    def index(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        with self._transaction() as conn:
            for doc in documents:
                conn.execute(
                    "DELETE FROM fulltext WHERE rowid = "
                    "(SELECT rowid FROM documents WHERE entry_id = ?)",
                    (doc.entry_id,),
                )
                auth = [doc.auth.get(key) for key in AUTH_FILTER_KEYS]
                to_keys = sorted({key for addr in doc.to_addrs for key in address_keys(addr)})
                rowid = conn.execute(
                    "INSERT INTO documents (entry_id, tenant_id, mailbox_id, received_at, "
                    "auth_spf, auth_dkim, auth_dmarc, auth_arc, folder, tags, from_keys, to_keys) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id) DO UPDATE "
                    "SET tenant_id = excluded.tenant_id, mailbox_id = excluded.mailbox_id, "
                    "received_at = excluded.received_at, auth_spf = excluded.auth_spf, "
                    "auth_dkim = excluded.auth_dkim, auth_dmarc = excluded.auth_dmarc, "
                    "auth_arc = excluded.auth_arc, folder = excluded.folder, "
                    "tags = excluded.tags, from_keys = excluded.from_keys, "
                    "to_keys = excluded.to_keys RETURNING rowid",
                    (
                        doc.entry_id,
                        doc.tenant_id,
                        doc.mailbox_id,
                        _utc_text(doc.received_at),
                        *auth,
                        doc.folder,
                        json.dumps(sorted(set(doc.tags))),
                        json.dumps(list(address_keys(doc.from_addr))),
                        json.dumps(to_keys),
                    ),
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO fulltext (rowid, subject, from_addr, to_addrs, body) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (rowid, doc.subject, doc.from_addr, " ".join(doc.to_addrs), doc.body),
                )

    def delete(self, entry_ids: Sequence[str]) -> None:
        if not entry_ids:
            return
        with self._transaction() as conn:
            for entry_id in entry_ids:
                conn.execute(
                    "DELETE FROM fulltext WHERE rowid = "
                    "(SELECT rowid FROM documents WHERE entry_id = ?)",
                    (entry_id,),
                )
                conn.execute("DELETE FROM documents WHERE entry_id = ?", (entry_id,))

    def update_labels(self, entry_id: str, tags: Sequence[str], folder: str) -> bool:
        # Labels live only in the side table: the full-text row is not touched.
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE documents SET tags = ?, folder = ? WHERE entry_id = ?",
                (json.dumps(sorted(set(tags))), folder, entry_id),
            ).rowcount
        return changed > 0

    def search(
        self,
        scope: Scope,
        query: str,
        mailbox_id: str | None = None,
        limit: int = 50,
        after: SearchPosition | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> list[SearchHit]:
        typed = search_filters(filters)  # InvalidInput for unknown keys and bad values
        if not query.strip() and not filters:
            raise InvalidInput("empty search query")
        start = _position(after) if after is not None else None
        params: list[str | int | float] = []
        if query.strip():
            match = fts5_query(query)
            if match is None:
                return []
            sql = (
                "SELECT d.entry_id, bm25(fulltext) AS rank_value, d.received_at, "
                f"snippet(fulltext, -1, '', '', '…', {_SNIPPET_TOKENS}) "
                "FROM fulltext JOIN documents AS d ON d.rowid = fulltext.rowid "
                "WHERE fulltext MATCH ?"
            )
            params.append(match)
        else:  # filters alone: newest first, no text rank
            sql = (
                "SELECT d.entry_id, 0.0 AS rank_value, d.received_at, '' "
                "FROM documents AS d WHERE 1 = 1"
            )
        if limit <= 0:
            return []
        conditions, values = _filter_sql(typed)
        for condition in conditions:
            sql += f" AND {condition}"
        params.extend(values)
        if isinstance(scope, TenantScope):
            sql += " AND d.tenant_id = ?"
            params.append(scope.tenant_id)
            if scope.mailbox_id is not None:
                sql += " AND d.mailbox_id = ?"
                params.append(scope.mailbox_id)
        else:
            assert isinstance(scope, PlatformScope)  # a third kind must not see everything
        if mailbox_id is not None:
            sql += " AND d.mailbox_id = ?"
            params.append(mailbox_id)
        # bm25 is lower-is-better; ties go newest first, then by id: a total order, so a
        # page starts exactly behind the previous page's last hit. The rank is compared
        # outside the query that computes it (bm25() is for result columns only).
        sql = f"SELECT * FROM ({sql}) AS hits"
        if start is not None:
            rank, received, entry_id = start
            sql += (
                " WHERE rank_value > ? OR (rank_value = ? AND (received_at < ? "
                "OR (received_at = ? AND entry_id > ?)))"
            )
            params.extend([rank, rank, received, received, entry_id])
        sql += " ORDER BY rank_value, received_at DESC, entry_id LIMIT ?"
        params.append(limit)
        with self._transaction(write=False) as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            SearchHit(row[0], score=-row[1], snippet=row[3], position=(row[1], row[2], row[0]))
            for row in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; IMMEDIATE for writes so the busy timeout applies."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield self._conn
                except BaseException:
                    # Some errors (disk full, I/O) have already rolled SQLite back.
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as error:
                log.warning("search index unavailable: %s", error)
                raise StorageUnavailable(f"search index unavailable: {error}") from error
