"""The writers' turn on a shared SQLite file: one holder at a time across processes and
threads, handed on within milliseconds of its release, freed by the kernel when a holder
dies, a wait past the timeout StorageUnavailable; and ``SqlDatabase.write`` on a SQLite
file takes it (reads do not)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mairust.errors import StorageUnavailable
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sqlite_writer_lock import SqliteWriterLock, lock_path_for

# A process that takes the lock file's flock, says so, and holds it until killed or for
# the seconds given.
_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(database: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(lock_path_for(database)), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_the_turn_comes_when_another_process_lets_go(tmp_path: Path) -> None:
    database = tmp_path / "metadata.db"
    lock = SqliteWriterLock(database, timeout=10)
    holder = _hold(database, 0.4)
    started = time.monotonic()
    with lock.turn():
        waited = time.monotonic() - started
    holder.wait(timeout=10)
    # Not before the holder let go (0.4 s after it said "held"), and not long after.
    assert 0.3 < waited < 1.5


def test_a_turn_not_coming_within_the_timeout_is_storage_unavailable(tmp_path: Path) -> None:
    database = tmp_path / "metadata.db"
    holder = _hold(database, 30)
    try:
        started = time.monotonic()
        with (
            pytest.raises(StorageUnavailable, match="no turn to write"),
            SqliteWriterLock(database, timeout=0.3).turn(),
        ):
            pass
        assert 0.3 <= time.monotonic() - started < 2.0
    finally:
        holder.kill()
        holder.wait()


def test_a_holder_killed_frees_the_turn(tmp_path: Path) -> None:
    database = tmp_path / "metadata.db"
    holder = _hold(database, 30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with SqliteWriterLock(database, timeout=1).turn():
        pass


def test_threads_take_turns_and_a_holder_may_enter_again(tmp_path: Path) -> None:
    lock = SqliteWriterLock(tmp_path / "metadata.db", timeout=10)
    inside = 0
    most_inside = 0
    guard = threading.Lock()

    def write_many() -> None:
        nonlocal inside, most_inside
        for _ in range(50):
            with lock.turn():
                with guard:
                    inside += 1
                    most_inside = max(most_inside, inside)
                with lock.turn():  # nested in the same thread: let through
                    time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=write_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most_inside == 1
    # Still free after all that (the nested exit did not keep or lose it).
    holder = _hold(tmp_path / "metadata.db", 0)
    holder.wait(timeout=10)


def test_sqlite_writes_wait_for_the_turn_and_reads_do_not(tmp_path: Path) -> None:
    database = tmp_path / "metadata.db"
    db = SqlDatabase(f"sqlite:///{database}", busy_timeout=0.3)
    with db.write() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    holder = _hold(database, 30)
    try:
        with pytest.raises(StorageUnavailable), db.write() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        with db.read() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    finally:
        holder.kill()
        holder.wait()
    with db.write() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    db.close()
