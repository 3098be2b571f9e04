"""Run the Alembic migrations of the metadata schema, programmatically (no alembic.ini).

Migrations are the only thing that creates or changes the schema. An upgrade runs in
ONE write transaction: on SQLite ``BEGIN IMMEDIATE`` makes a second process wait and
then find the schema already at head; on PostgreSQL a transaction-level advisory lock
does the same, and DDL is transactional there too, so a failed upgrade leaves nothing.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection

from mairust.storage.sql_engine import (
    DEFAULT_BUSY_TIMEOUT,
    SqlDatabase,
    translate_errors,
    without_answer_deadline,
)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The advisory lock every migrating process takes on PostgreSQL. Any constant works;
# it only has to be the same in every process that migrates.
PG_MIGRATION_LOCK = 0x6D61697275737400  # "mairust\0"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our scripts; env.py runs on ``connection``."""
    config = Config()
    # ConfigParser interpolates '%': escape it in the path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(url: str | URL) -> str | None:
    """The revision the database at ``url`` is at; None before the first migration."""
    db = SqlDatabase(url)
    try:
        with db.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        db.close()


def upgrade_to_head(url: str | URL, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
    """Bring the schema at ``url`` to the newest revision; a no-op when it is there."""
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
                command.upgrade(alembic_config(conn), "head")
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("migration left rows that break a foreign key")
    finally:
        db.close()
