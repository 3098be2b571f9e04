"""Migrated SQLite metadata databases for tests, made by copying one template.

Running every Alembic revision into a fresh SQLite file costs a tenth of a second or more,
and thousands of tests each want a fresh migrated database. The revisions run once per
process, into a template; each test gets a page-for-page copy of it (SQLite's backup API),
the database its own migration would have made (the PostgreSQL fixtures clone a migrated
template database the same way: tests/support/postgres_databases.py). A database that is
not a new SQLite file is migrated as before.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from contextlib import closing
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from mairust.config import StorageSettings
from mairust.storage.factory import migrate
from mairust.storage.sql_engine import sqlite_path
from mairust.storage.sql_migrations import upgrade_to_head


@cache
def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="mairust-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "metadata.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


def _is_new_sqlite(url: str) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite" and not sqlite_path(url).exists()


def _copy_template(url: str) -> None:
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(_template())) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)


def upgrade_to_head_for_test(url: str) -> None:
    """``upgrade_to_head(url)``: a new SQLite file as a copy of the migrated template."""
    if _is_new_sqlite(url):
        _copy_template(url)
    else:
        upgrade_to_head(url)


def migrate_for_test(storage: StorageSettings) -> None:
    """``migrate(storage)``: a new SQLite metadata file as a copy of the migrated template."""
    if _is_new_sqlite(storage.metadata):
        _copy_template(storage.metadata)
    else:
        migrate(storage)
