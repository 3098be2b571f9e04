"""Engines for the SQL metadata store: connection set-up, transactions, error mapping.

SQLite is tuned for several processes sharing one file (WAL, ``synchronous=FULL``
because a commit backs a 250 reply, a long busy timeout, foreign keys on) and
SQLAlchemy emits BEGIN itself, so write transactions start with ``BEGIN IMMEDIATE``:
taking the write lock up front is what lets the busy timeout work instead of a
read-then-write transaction failing at once with SQLITE_BUSY.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine

from mairust.errors import Conflict, StorageUnavailable

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT = 15.0
_BEGIN_OPTION = "mairust_sqlite_begin"


def sqlite_path(url: str | URL) -> Path:
    """The absolute database file of a ``sqlite:////abs/path`` URL; ValueError otherwise."""
    parsed = sa.make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        raise ValueError(f"not a file-based SQLite URL: {url!s}")
    path = Path(database)
    if not path.is_absolute():
        # Ray workers run in another directory: a relative path would open another file.
        raise ValueError(f"SQLite path must be absolute (sqlite:////abs/path.db): {url!s}")
    return path


def create_sql_engine(url: str | URL, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """An engine for ``url``; SQLite files get the pragmas and BEGIN handling above."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    sqlite_path(parsed).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout})
    _tune_sqlite(engine, busy_timeout)
    return engine


def _tune_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class SqlDatabase:
    """Short transactions on one engine, with driver errors turned into domain errors."""

    def __init__(self, url: str | URL, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.engine = create_sql_engine(url, busy_timeout)
        self.dialect = self.engine.dialect.name
        # Same pool; only the BEGIN differs (the option is ignored off SQLite).
        self.write_engine = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (one consistent snapshot)."""
        with translate_errors(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding the write lock from its first statement."""
        with translate_errors(), self.write_engine.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def translate_errors() -> Iterator[None]:
    """Unique violations become Conflict; an unreachable or failing store StorageUnavailable.

    Programming errors (bad SQL, missing columns) are bugs and propagate unchanged.
    """
    try:
        yield
    except exc.IntegrityError as error:
        raise Conflict(_first_line(error.orig)) from error
    except exc.ProgrammingError:
        raise
    except (exc.DBAPIError, exc.TimeoutError) as error:
        log.warning("metadata store unavailable: %s", _first_line(error))
        raise StorageUnavailable(f"metadata store unavailable: {_first_line(error)}") from error


def _first_line(error: object) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
