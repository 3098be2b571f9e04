"""Metadata in and out of a backup: SQLite by its online backup API, PostgreSQL as portable
JSON lines read in one REPEATABLE READ snapshot, and the schema revision checks.

SQLite's ``Connection.backup`` copies the whole database in one step under one read
transaction: with WAL, writers carry on meanwhile, and the copy is the database as of one
commit. (Copying in several steps would restart each time another connection writes.)

PostgreSQL's tables are read through SQLAlchemy, not ``pg_dump``: no client tools of the
server's major version are needed, and the dump does not depend on the server version.
One file per table, ``metadata/<table>.jsonl``: a first line naming the columns, then
one JSON array per row (datetimes as ISO 8601, bytes as base64).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

from mairust.backup.manifest import BackupRefused
from mairust.storage.sql_engine import SqlDatabase, translate_errors, without_answer_deadline
from mairust.storage.sql_migrations import PG_MIGRATION_LOCK, alembic_config

VERSION_TABLE = "alembic_version"
# Bookkeeping of the migrations, not data: neither dumped nor counted. (schema_revisions is
# written again by every migrating process from its own migration modules.)
SCHEMA_TABLES = (VERSION_TABLE, "schema_revisions")
_ROWS_PER_FETCH = 1000
_ROWS_PER_INSERT = 500

Advance = Callable[[int], None]


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` (new) as of one commit."""
    if not source.is_file():  # connecting would create an empty database there
        raise BackupRefused(f"no SQLite database at {source}")
    with (
        closing(sqlite3.connect(source, timeout=30)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)  # pages=-1: one step, one snapshot
        # The copy is a plain file from now on; WAL is set again when it is opened.
        dst.execute("PRAGMA journal_mode = DELETE")


def sqlite_facts(path: Path) -> tuple[str, dict[str, int], set[str]]:
    """The schema revision, row counts per table and blob keys of an SQLite copy."""
    with closing(sqlite3.connect(path)) as db:
        revision = _sqlite_revision(db)
        names = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT IN (?, ?) ORDER BY name",
                SCHEMA_TABLES,
            )
        ]
        counts = {
            name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names
        }
        keys = {row[0] for row in db.execute("SELECT DISTINCT blob_key FROM messages")}
    return revision, counts, keys


def _sqlite_revision(db: sqlite3.Connection) -> str:
    try:
        row = db.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupRefused(f"the metadata database is not a MaiRust one: {error}") from error
    if row is None:
        raise BackupRefused("the metadata database was never migrated")
    return str(row[0])


def dump_tables(
    url: str, directory: Path, advance: Advance
) -> tuple[str, dict[str, int], set[str]]:
    """Write every table at ``url`` (PostgreSQL) to ``directory`` from one snapshot; the
    schema revision, row counts and the blob keys the messages name."""
    directory.mkdir()
    db = SqlDatabase(without_answer_deadline(url))
    try:
        with db.read() as conn:  # REPEATABLE READ: every table as of one moment
            revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            if revision is None:
                raise BackupRefused("the metadata database was never migrated")
            counts = {
                name: _dump_table(conn, name, directory, advance) for name in _table_names(conn)
            }
            keys = set(conn.execute(sa.text("SELECT DISTINCT blob_key FROM messages")).scalars())
    finally:
        db.close()
    return str(revision), counts, keys


def _dump_table(conn: Connection, name: str, directory: Path, advance: Advance) -> int:
    rows = conn.execution_options(yield_per=_ROWS_PER_FETCH).execute(
        sa.text(f'SELECT * FROM "{name}"')
    )
    count = 0
    with (directory / f"{name}.jsonl").open("w", encoding="utf-8") as out:
        out.write(json.dumps({"columns": list(rows.keys())}) + "\n")
        for row in rows:
            out.write(json.dumps([_encoded(value) for value in row], ensure_ascii=False) + "\n")
            count += 1
            if count % _ROWS_PER_FETCH == 0:
                advance(_ROWS_PER_FETCH)
    advance(count % _ROWS_PER_FETCH)
    return count


def load_tables(url: str, directory: Path, revision: str, advance: Advance) -> dict[str, int]:
    """Recreate the schema at ``url`` (PostgreSQL) at ``revision`` and insert the dumped
    rows in one transaction; the rows inserted per table. The caller upgrades to the
    newest revision afterwards."""
    db = SqlDatabase(without_answer_deadline(url))
    try:
        with translate_errors(), db.engine.connect() as conn, conn.begin():
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
            for name in [*_table_names(conn), *SCHEMA_TABLES]:  # empty, or --force said so
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
            command.upgrade(alembic_config(conn), revision)
            reflected = sa.MetaData()
            reflected.reflect(conn)
            counts = {
                table.name: _load_table(conn, table, directory / f"{table.name}.jsonl", advance)
                for table in reflected.sorted_tables
                if table.name not in SCHEMA_TABLES
            }
            _restart_sequences(conn)
    finally:
        db.close()
    return counts


def _load_table(conn: Connection, table: sa.Table, path: Path, advance: Advance) -> int:
    if not path.is_file():
        raise BackupRefused(f"backup damaged: table {table.name} has no {path.name}")
    count = 0
    with path.open(encoding="utf-8") as lines:
        columns: list[str] = json.loads(next(lines))["columns"]
        decoders = [_decoder(table.columns[name].type) for name in columns]
        batch: list[dict[str, Any]] = []
        for line in lines:
            values = json.loads(line)
            batch.append(
                {
                    name: decode(value)
                    for name, decode, value in zip(columns, decoders, values, strict=True)
                }
            )
            if len(batch) == _ROWS_PER_INSERT:
                conn.execute(table.insert(), batch)
                advance(len(batch))
                count += len(batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
            advance(len(batch))
            count += len(batch)
    return count


def _restart_sequences(conn: Connection) -> None:
    """Set each serial/identity sequence past the restored ids, so new rows get new ones."""
    serials = conn.execute(
        sa.text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')"
        )
    ).all()
    for table, column in serials:
        conn.execute(
            sa.text(
                f'SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE(MAX("{column}"), 1), '
                f'MAX("{column}") IS NOT NULL) FROM "{table}"'
            ),
            {"t": table, "c": column},
        )


def row_counts(url: str) -> dict[str, int]:
    """Rows per table (besides the schema version) at ``url``, from one snapshot."""
    db = SqlDatabase(url)
    try:
        with db.read() as conn:
            return {
                name: int(conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one())
                for name in _table_names(conn)
            }
    finally:
        db.close()


def check_revision_known(revision: str) -> None:
    """BackupRefused unless the code has migration ``revision`` (a newer one it cannot read)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        known = scripts.get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupRefused(
            f"the backup's schema revision {revision} is unknown to this MaiRust (head "
            f"{scripts.get_current_head()}): it comes from a newer version; restore it with "
            "the version that made it"
        )


def _table_names(conn: Connection) -> list[str]:
    """The tables of the schema, without the migrations' own (information_schema: reflecting
    every table's columns and keys costs a few tenths of a second each time)."""
    names = conn.execute(
        sa.text(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        )
    ).scalars()
    return [name for name in names if name not in SCHEMA_TABLES]


def _encoded(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decoder(column_type: sa.types.TypeEngine[Any]) -> Callable[[Any], Any]:
    def keep(value: Any) -> Any:
        return value

    def unless_null(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return lambda value: None if value is None else convert(value)

    if isinstance(column_type, sa.DateTime):
        return unless_null(datetime.fromisoformat)
    if isinstance(column_type, sa.Date):
        return unless_null(date.fromisoformat)
    if isinstance(column_type, sa.LargeBinary):
        return unless_null(base64.b64decode)
    if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float):
        return unless_null(Decimal)
    return keep
