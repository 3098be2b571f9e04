"""Run the Alembic migrations of the metadata schema, programmatically (no alembic.ini).

Migrations are the only thing that creates or changes the schema. An upgrade runs in
ONE write transaction: on SQLite ``BEGIN IMMEDIATE`` makes a second process wait and
then find the schema already at head; on PostgreSQL a transaction-level advisory lock
does the same, and DDL is transactional there too, so a failed upgrade leaves nothing.

A database already at a revision newer than this code's head (another node of a newer
release migrated it during a rolling upgrade) is left as it is: this code runs on it if
the newer migrations say it may (``schema_revisions``), and refuses to start if not.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection

from mairust.storage.schema_revisions import (
    Relation,
    SchemaVerdict,
    declared_phases,
    record_phases,
    refusal,
    verdict,
)
from mairust.storage.sql_engine import (
    SqlDatabase,
    translate_errors,
    without_answer_deadline,
)

_log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The advisory lock every migrating process takes on PostgreSQL. Any constant works;
# it only has to be the same in every process that migrates.
PG_MIGRATION_LOCK = 0x6D61697275737400  # "mairust\0"


def alembic_config(
    connection: Connection | None = None, migrations_dir: Path = MIGRATIONS_DIR
) -> Config:
    """An Alembic config pointing at our scripts; env.py runs on ``connection``."""
    config = Config()
    # ConfigParser interpolates '%': escape it in the path.
    config.set_main_option("script_location", str(migrations_dir).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision(migrations_dir: Path = MIGRATIONS_DIR) -> str:
    """The newest revision the code knows."""
    head = script_directory(migrations_dir).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {migrations_dir}")
    return head


def current_revision(url: str | URL) -> str | None:
    """The revision the database at ``url`` is at; None before the first migration."""
    db = SqlDatabase(url)
    try:
        with db.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        db.close()


def schema_verdict(url: str | URL, migrations_dir: Path = MIGRATIONS_DIR) -> SchemaVerdict:
    """Where the database at ``url`` stands against this code, and whether it may run."""
    db = SqlDatabase(url)
    try:
        with translate_errors(), db.read() as conn:
            return verdict(conn, script_directory(migrations_dir))
    finally:
        db.close()


# How long a process waits for another one's migration on SQLite: the migrating process
# holds the write lock for its whole run (32 steps and the check after them), which took
# longer than the stores' usual 15 s on a loaded machine when six processes started at once.
MIGRATION_BUSY_TIMEOUT = 180.0


def upgrade_to_head(
    url: str | URL,
    busy_timeout: float = MIGRATION_BUSY_TIMEOUT,
    migrations_dir: Path = MIGRATIONS_DIR,
) -> SchemaVerdict:
    """Bring the schema at ``url`` to the newest revision; a no-op when it is there.

    A database ahead of this code is left alone: returned as such when this code may run
    on it, SchemaTooNew when not. The verdict returned is the one found before upgrading.
    """
    # A migration may build an index on a big table: no answer deadline for it.
    db = SqlDatabase(without_answer_deadline(url), busy_timeout)
    try:
        with translate_errors(), db.write_engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # SQLite's procedure for schema changes: batch migrations rebuild tables,
                # which must not cascade; the check below replaces the per-row checks.
                # (A pragma, so outside the transaction; this engine is disposed after.)
                driver = conn.connection.driver_connection
                assert driver is not None  # a checked-out connection always has one
                driver.execute("PRAGMA foreign_keys = OFF")
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
                    conn.execute(lock, {"key": PG_MIGRATION_LOCK})
                found = _upgrade_locked(conn, migrations_dir)
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("migration left rows that break a foreign key")
        return found
    finally:
        db.close()


def _upgrade_locked(conn: Connection, migrations_dir: Path) -> SchemaVerdict:
    """Upgrade inside the caller's locked transaction, or decide not to (database ahead)."""
    scripts = script_directory(migrations_dir)
    found = verdict(conn, scripts)
    if found.relation in (Relation.AHEAD, Relation.UNKNOWN):
        if not found.may_run:
            raise refusal(found)
        _log.warning(
            "metadata schema at %s, ahead of this code (%s); running on it: %s",
            found.database,
            found.code_head,
            found.explanation,
        )
        return found
    command.upgrade(alembic_config(conn, migrations_dir), "head")
    record_phases(conn, declared_phases(scripts))
    return found


def script_directory(migrations_dir: Path = MIGRATIONS_DIR) -> ScriptDirectory:
    """The migration scripts in ``migrations_dir`` (ours by default), as Alembic reads them."""
    return ScriptDirectory.from_config(alembic_config(migrations_dir=migrations_dir))
