"""Engines for the SQL metadata store: connection set-up, transactions, error mapping.

SQLite is tuned for several processes sharing one file (WAL, ``synchronous=FULL``
because a commit backs a 250 reply, a long busy timeout, foreign keys on) and
SQLAlchemy emits BEGIN itself, so write transactions start with ``BEGIN IMMEDIATE``:
taking the write lock up front is what lets the busy timeout work instead of a
read-then-write transaction failing at once with SQLITE_BUSY. Before that BEGIN, a writer
waits for its turn on a lock file beside the database (``sqlite_writer_lock``), which
hands the lock on within a millisecond where SQLite's busy handler sleeps for tens.

PostgreSQL (``postgresql://`` or ``postgres://``, driven by psycopg 3) gets a pool
whose connections are pinged before use, so a restarted server costs no failed call
once it is back; every session commits with ``synchronous_commit = on`` whatever the
server default, and ``lock_timeout`` plays the busy timeout's part. Writers need no
up-front lock there: the queue leases rows with ``FOR UPDATE SKIP LOCKED``. A server that
hangs (stopped, swapped out, a path that drops packets while its kernel keeps the TCP
connection) must not hold an SMTP session for ever: every request on a connection must be
answered within ``answer_timeout`` seconds (a URL key, default 30; 0 for none), else the
connection is dropped and the call fails as an unreachable store (451 at the SMTP edge).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.abc import PQGen
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine

from mairust.errors import Conflict, InvalidInput, StorageUnavailable
from mairust.storage.sqlite_writer_lock import SqliteWriterLock

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT = 15.0
_BEGIN_OPTION = "mairust_sqlite_begin"
_POSTGRES_NAMES = ("postgresql", "postgres")
_POSTGRES_CONNECT_TIMEOUT = 10  # seconds; an unreachable host fails instead of hanging
DEFAULT_ANSWER_TIMEOUT = 30.0  # seconds a connected PostgreSQL server has to answer a request
_WAIT_INTERVAL = 0.1  # psycopg's own: how often a wait wakes to see Ctrl-C


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


def postgres_url(url: str | URL) -> URL:
    """``url`` with the psycopg 3 driver when it names PostgreSQL without a driver.

    ``postgres://`` (the libpq spelling) is accepted too; ValueError for any other
    backend or a URL without a database name.
    """
    parsed = sa.make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in _POSTGRES_NAMES:
        raise ValueError(f"not a PostgreSQL URL: {parsed!r}")
    if not parsed.database:
        raise ValueError(f"PostgreSQL URL names no database: {parsed!r}")
    return parsed.set(drivername=f"postgresql+{driver or 'psycopg'}")


def _sqlite_file(url: str | URL) -> Path | None:
    """The file an SQLite URL names; None for an in-memory database."""
    try:
        return sqlite_path(url)
    except ValueError:
        return None


def without_answer_deadline(url: str | URL) -> str | URL:
    """``url`` with no answer deadline, for work that may rightly run long (migrations
    building an index on a big table); unchanged when it is not PostgreSQL."""
    parsed = sa.make_url(url)
    if parsed.drivername.partition("+")[0] not in _POSTGRES_NAMES:
        return url
    return parsed.update_query_dict({"answer_timeout": "0"})


def create_sql_engine(url: str | URL, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """An engine for ``url``: SQLite files and PostgreSQL get the settings above."""
    parsed = sa.make_url(url)
    if parsed.drivername.partition("+")[0] in _POSTGRES_NAMES:
        return _postgres_engine(postgres_url(parsed), busy_timeout)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    sqlite_path(parsed).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout})
    _tune_sqlite(engine, busy_timeout)
    return engine


def _postgres_engine(url: URL, busy_timeout: float) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = _POSTGRES_CONNECT_TIMEOUT
    # Every process (each Ray actor, each API replica) has its own pool: with many of them
    # the server's max_connections is the limit, so the URL may size the pool.
    query = dict(url.query)
    try:
        pool_size = int(str(query.pop("pool_size", 5)))
        max_overflow = int(str(query.pop("max_overflow", 10)))
    except ValueError as error:
        raise ValueError(f"pool_size and max_overflow must be whole numbers: {error}") from error
    answer_timeout = _seconds(query.pop("answer_timeout", DEFAULT_ANSWER_TIMEOUT))
    engine = sa.create_engine(
        url.set(query=query),
        connect_args=connect_args,
        poolclass=sa.QueuePool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        # Waiting longer than a lock would for a pooled connection is StorageUnavailable too.
        pool_timeout=busy_timeout,
    )

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        connection = AnswerDeadlineConnection.connect(*cargs, **cparams)
        connection.answer_timeout = answer_timeout
        return connection

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Session settings, outside any transaction so that they outlive the first one.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            with dbapi_connection.cursor() as cursor:
                # A commit backs a 250 reply: never acknowledged before it is on disk.
                cursor.execute("SET synchronous_commit = on")
                cursor.execute(f"SET lock_timeout = {int(busy_timeout * 1000)}")
        finally:
            dbapi_connection.autocommit = autocommit

    return engine


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value))
    except ValueError as error:
        raise ValueError(f"answer_timeout must be a number of seconds: {value!r}") from error
    if seconds < 0:
        raise ValueError(f"answer_timeout must not be negative: {value!r}")
    return seconds or None


class AnswerDeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every request must be answered within ``answer_timeout``.

    libpq has no client-side timeout once connected, and a stopped server's kernel keeps
    acknowledging our packets, so neither TCP timeouts nor the server's statement_timeout
    end the wait. When the deadline passes, the connection is closed (where the protocol
    stood is unknown) and an OperationalError raised: SQLAlchemy sees a closed connection,
    invalidates it, and the next checkout opens a new one.
    """

    answer_timeout: float | None = None

    def wait(
        self, gen: PQGen[Any], interval: float = _WAIT_INTERVAL, timeout: float | None = None
    ) -> Any:
        if timeout is not None or self.answer_timeout is None:
            # psycopg's own timed waits (notifies, cancel) handle their expiry themselves.
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, self.answer_timeout)
        except psycopg.errors._WaitTimeout as error:
            self.close()
            raise psycopg.OperationalError(
                f"PostgreSQL did not answer within {self.answer_timeout} s; connection dropped"
            ) from error


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
        # Same pool, other transaction starts: on SQLite a write takes the lock at BEGIN;
        # on PostgreSQL a read sees one snapshot for all its statements (as SQLite does).
        self.read_engine: Engine = self.engine
        self.write_engine: Engine = self.engine
        self._writer_lock: SqliteWriterLock | None = None
        if self.dialect == "sqlite":
            self.write_engine = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            database_file = _sqlite_file(url)
            if database_file is not None:
                self._writer_lock = SqliteWriterLock(database_file, busy_timeout)
        elif self.dialect == "postgresql":
            self.read_engine = self.engine.execution_options(isolation_level="REPEATABLE READ")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (one consistent snapshot)."""
        with translate_errors(), self.read_engine.begin() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite holding the write lock from its first statement,
        after the writers' turn: ``sqlite_writer_lock``)."""
        turn = nullcontext() if self._writer_lock is None else self._writer_lock.turn()
        with turn, translate_errors(), self.write_engine.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def translate_errors() -> Iterator[None]:
    """Unique violations become Conflict; an unreachable or failing store StorageUnavailable.

    A server that refuses connections, went away or shuts down (PostgreSQL's
    admin_shutdown) raises an OperationalError: StorageUnavailable, so the spool
    answers 451 and the client retries. A value the database refuses (PostgreSQL
    text cannot hold NUL) is InvalidInput: retrying it would fail forever.
    Programming errors (bad SQL, missing columns) are bugs and propagate unchanged.
    """
    try:
        yield
    except exc.IntegrityError as error:
        raise Conflict(_first_line(error.orig)) from error
    except exc.DataError as error:
        raise InvalidInput(
            f"the metadata store refused a value: {_first_line(error.orig)}"
        ) from error
    except exc.ProgrammingError:
        raise
    except (exc.DBAPIError, exc.TimeoutError) as error:
        log.warning("metadata store unavailable: %s", _first_line(error))
        raise StorageUnavailable(f"metadata store unavailable: {_first_line(error)}") from error


def _first_line(error: object) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
