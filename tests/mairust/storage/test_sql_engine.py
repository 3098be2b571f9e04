"""Engines and error mapping of the SQL metadata store, on SQLite and the real PostgreSQL.

The PostgreSQL faults are real: a closed port, a backend the server terminates in the
middle of a commit, a table lock held past ``lock_timeout``, and a server stopped and
started again (a private cluster from `.ci/services/postgres.sh`, so that stopping it
does not disturb the tests running beside this one).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from mairust.errors import Conflict, InvalidInput, StorageUnavailable
from mairust.model.message import SpoolRecord
from mairust.model.queue import QueueState
from mairust.storage.sql_engine import (
    SqlDatabase,
    create_sql_engine,
    postgres_url,
    without_answer_deadline,
)
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_migrations import upgrade_to_head
from tests.support.postgres_databases import SERVICE_SCRIPT, PostgresDatabases

RecordMaker = Callable[..., SpoolRecord]


@pytest.fixture
def postgres_url_for_test(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """A migrated database of its own on the shared test server."""
    with postgres_databases.database() as url:
        yield url


# -- URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@127.0.0.1:5432/db", "postgresql+psycopg"),
        ("postgres://u:p@127.0.0.1:5432/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u:p@127.0.0.1/db", "postgresql+psycopg"),
    ],
)
def test_postgres_urls_get_the_psycopg_driver(given: str, driver: str) -> None:
    url = postgres_url(given)
    assert url.drivername == driver
    assert (url.username, url.password, url.database) == ("u", "p", "db")


@pytest.mark.parametrize(
    "url", ["sqlite:////tmp/x.db", "postgresql://u:p@127.0.0.1:5432", "mysql://h/db"]
)
def test_postgres_url_refuses_others(url: str) -> None:
    with pytest.raises(ValueError):
        postgres_url(url)


# -- errors on every backend -------------------------------------------------------


def test_racing_creators_get_one_tenant_and_conflicts(metadata_store: SqlMetadataStore) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def create() -> None:
        start.wait()
        try:
            metadata_store.create_tenant("same")
            outcome = "created"
        except Conflict:
            outcome = "conflict"
        except BaseException as error:  # surfaced by the assert below
            outcome = repr(error)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["created"]
    assert [t.name for t in metadata_store.list_tenants()] == ["same"]


# -- PostgreSQL settings -------------------------------------------------------------


def test_postgres_engine_is_pooled_pinged_and_commits_synchronously(
    postgres_url_for_test: str,
) -> None:
    database = sa.make_url(postgres_url_for_test).database
    admin = create_sql_engine(postgres_url_for_test)
    with admin.begin() as conn:  # a server or database default must not weaken commits
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    admin.dispose()
    store = SqlMetadataStore(postgres_url_for_test, busy_timeout=2.5)
    try:
        engine = store.engine
        assert (engine.dialect.name, engine.driver) == ("postgresql", "psycopg")
        assert isinstance(engine.pool, sa.QueuePool)
        assert engine.pool._pre_ping
        with engine.connect() as conn:
            show = conn.exec_driver_sql
            assert show("SHOW synchronous_commit").scalar() == "on"
            assert show("SHOW fsync").scalar() == "on"
            assert show("SHOW lock_timeout").scalar() == "2500ms"
    finally:
        store.close()


def test_the_url_sizes_the_pool(postgres_url_for_test: str) -> None:
    sized = sa.make_url(postgres_url_for_test).update_query_dict(
        {"pool_size": "3", "max_overflow": "1"}
    )
    store = SqlMetadataStore(sized.render_as_string(hide_password=False))
    try:
        pool = store.engine.pool
        assert isinstance(pool, sa.QueuePool)
        assert (pool.size(), pool._max_overflow) == (3, 1)
        assert store.list_tenants() == []  # the options did not reach the server
    finally:
        store.close()
    with pytest.raises(ValueError, match="whole numbers"):
        SqlMetadataStore(
            sized.update_query_dict({"pool_size": "many"}).render_as_string(hide_password=False)
        )


def test_postgres_reads_see_one_snapshot_and_writes_read_committed(
    postgres_url_for_test: str,
) -> None:
    db = SqlDatabase(postgres_url_for_test)
    try:
        with db.read() as conn:
            level = conn.exec_driver_sql("SHOW transaction_isolation").scalar()
            assert level == "repeatable read"
        with db.write() as conn:
            assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
        with db.engine.connect() as conn:  # the pool gives connections back as it got them
            assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
    finally:
        db.close()


# -- PostgreSQL faults ---------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_storage_unavailable(make_record: RecordMaker) -> None:
    url = f"postgresql://mairust:secret@127.0.0.1:{_closed_port()}/mairust"
    store = SqlMetadataStore(url)
    started = time.monotonic()
    try:
        with pytest.raises(StorageUnavailable) as refused:
            store.commit_messages([make_record("a@x.test")])
        assert isinstance(refused.value.__cause__, sa.exc.OperationalError)
        assert "secret" not in str(refused.value)
        with pytest.raises(StorageUnavailable):
            store.lease_batch("w1", 10, 60)
        with pytest.raises(StorageUnavailable):
            store.list_tenants()
        with pytest.raises(StorageUnavailable):
            upgrade_to_head(url)
    finally:
        store.close()
    assert time.monotonic() - started < 10  # refused at once, never a hang


def test_a_backend_terminated_mid_commit_is_unavailable_and_commits_nothing(
    postgres_url_for_test: str, make_record: RecordMaker
) -> None:
    store = SqlMetadataStore(postgres_url_for_test)
    admin = create_sql_engine(postgres_url_for_test)
    terminated: list[int] = []

    def terminate_own_backend(conn: sa.Connection, *_: Any) -> None:
        if terminated:
            return
        pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with admin.connect() as other:
            # What an operator's pg_terminate_backend or a server shutdown does: 57P01.
            other.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        terminated.append(pid)

    record = make_record("a@x.test", "b@x.test")
    try:
        store.list_tenants()  # the pool holds a connection that looks healthy
        event.listen(store.engine, "before_cursor_execute", terminate_own_backend)
        with pytest.raises(StorageUnavailable) as gone:
            store.commit_messages([record])
        assert isinstance(gone.value.__cause__, sa.exc.OperationalError)
        assert terminated
        assert store.list_queue() == []  # nothing of the failed batch was committed
        store.commit_messages([record])  # the next call gets a fresh connection
        assert store.queue_counts()[QueueState.QUEUED] == 2
    finally:
        store.close()
        admin.dispose()


def test_a_lock_held_too_long_is_storage_unavailable(
    postgres_url_for_test: str, make_record: RecordMaker
) -> None:
    store = SqlMetadataStore(postgres_url_for_test, busy_timeout=0.3)
    blocker = create_sql_engine(postgres_url_for_test).connect()
    try:
        blocker.exec_driver_sql("LOCK TABLE queue IN EXCLUSIVE MODE")  # no insert gets in
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            store.commit_messages([make_record("a@x.test")])
        assert time.monotonic() - started < 5
        blocker.rollback()
        store.commit_messages([make_record("a@x.test")])
        assert len(store.lease_batch("w1", 5, 60)) == 1
    finally:
        blocker.close()
        blocker.engine.dispose()
        store.close()


def test_a_value_postgres_refuses_is_invalid_input(postgres_url_for_test: str) -> None:
    store = SqlMetadataStore(postgres_url_for_test)
    try:
        with pytest.raises(InvalidInput):
            store.create_tenant("nul\x00byte")  # PostgreSQL text cannot hold NUL
        assert store.list_tenants() == []
    finally:
        store.close()


@pytest.fixture
def private_postgres() -> Iterator[tuple[Path, str]]:
    """A PostgreSQL cluster of this test's own (state dir, URL), stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="mairust-pg-") as state:
        os.chmod(state, 0o755)  # the server runs as the `postgres` user when we are root
        service = Path(state) / "postgres"
        started = subprocess.run(
            ["bash", str(SERVICE_SCRIPT), "start", str(service)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert started.returncode == 0, started.stderr
        [line] = started.stdout.splitlines()
        key, _, url = line.partition("=")
        assert key == "MAIRUST_TEST_POSTGRES_URL"
        try:
            yield service, url
        finally:
            subprocess.run(["bash", str(SERVICE_SCRIPT), "stop", str(service)], timeout=120)


def _service(action: str, state: Path) -> None:
    subprocess.run(["bash", str(SERVICE_SCRIPT), action, str(state)], check=True, timeout=120)


def test_a_stopped_server_is_unavailable_and_the_store_recovers_when_it_is_back(
    private_postgres: tuple[Path, str], make_record: RecordMaker
) -> None:
    state, url = private_postgres
    upgrade_to_head(url)
    store = SqlMetadataStore(url)
    try:
        kept = make_record("kept@x.test")
        store.commit_messages([kept])
        _service("pause", state)  # pg_ctl stop -m fast: sessions end with admin_shutdown
        with pytest.raises(StorageUnavailable):
            store.commit_messages([make_record("lost@x.test")])
        with pytest.raises(StorageUnavailable):
            store.lease_batch("w1", 10, 60)
        _service("resume", state)
        # Same store object: the pool pings, drops the dead connections and reconnects.
        [item] = store.lease_batch("w1", 10, 60)
        assert item.message == kept.ref  # committed before the stop, still there after it
        store.commit_messages([make_record("after@x.test")])
        assert store.queue_counts()[QueueState.QUEUED] == 1
    finally:
        store.close()


class FreezableRelay:
    """A TCP relay to a server that can stop relaying: a hung server as its clients see it
    (the connection stays up, our bytes are taken, no answer ever comes)."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._flowing.set()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                self._flowing.wait()
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            source.close()
            target.close()


def test_a_server_that_stops_answering_is_unavailable_within_answer_timeout(
    postgres_url_for_test: str, make_record: RecordMaker
) -> None:
    direct = sa.make_url(postgres_url_for_test)
    relay = FreezableRelay(direct.host or "127.0.0.1", direct.port or 5432)
    url = direct.set(host="127.0.0.1", port=relay.port).update_query_dict(
        {"answer_timeout": "1", "connect_timeout": "2"}
    )
    store = SqlMetadataStore(url.render_as_string(hide_password=False))
    try:
        store.commit_messages([make_record("before@x.test")])
        relay.freeze()
        for call in (
            lambda: store.commit_messages([make_record("during@x.test")]),
            lambda: store.lease_batch("w1", 10, 60),
        ):
            started = time.monotonic()
            with pytest.raises(StorageUnavailable):
                call()
            # At most: the pool's ping (1 s) and a new connection's start-up (2 s).
            assert time.monotonic() - started < 5
        relay.thaw()
        store.commit_messages([make_record("after@x.test")])  # a fresh connection works
        assert store.queue_counts()[QueueState.QUEUED] >= 2
    finally:
        store.close()
        relay.close()


def test_answer_timeout_must_be_seconds(postgres_url_for_test: str) -> None:
    url = sa.make_url(postgres_url_for_test)
    for bad in ("soon", "-1"):
        with pytest.raises(ValueError, match="answer_timeout"):
            create_sql_engine(url.update_query_dict({"answer_timeout": bad}))
    engine = create_sql_engine(url.update_query_dict({"answer_timeout": "0"}))  # no deadline
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


def test_migrations_run_without_an_answer_deadline() -> None:
    sqlite = "sqlite:////tmp/x.db"
    assert without_answer_deadline(sqlite) == sqlite
    pg = without_answer_deadline("postgresql://u:p@127.0.0.1:5432/db?answer_timeout=5")
    assert sa.make_url(pg).query["answer_timeout"] == "0"
