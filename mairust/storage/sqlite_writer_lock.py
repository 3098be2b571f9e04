"""The writers' turn on a SQLite file shared by several processes.

SQLite lets one writer in at a time and makes the others wait in its busy handler, which
sleeps 1, 2, 5, 10, 15, 20, 25 … 100 ms between tries. Under steady writing (the front-end's
group commits beside the delivery loop's leases and settles, ~150 short transactions a
second) a writer that finds the lock taken so sleeps 8-30 ms on average, many times what
the lock was held, and a 250 reply waits for it.

So our writers queue on an advisory ``flock`` of a file beside the database before they
send ``BEGIN IMMEDIATE``. A waiter tries again after 0.1 ms, doubling to at most 1 ms, so it
takes a freed lock within about a millisecond; the kernel drops the lock of a process that
dies. Writers that do not take it (the ``sqlite3`` shell, a migration's own engine) still
meet SQLite's busy handler, so correctness never rests on it: it only shortens the wait.
A turn that does not come within the busy timeout is ``StorageUnavailable``, as SQLite's
own "database is locked" is.

Each thread has its own open file for the lock (``flock`` locks belong to an open file, so
two threads sharing one would both "hold" it); a thread that already holds the turn is let
through again, where a second file would wait for itself.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mairust.errors import StorageUnavailable

LOCK_SUFFIX = ".writers"  # the lock file: the database's name with this after it
FIRST_PAUSE = 0.0001  # seconds between tries at first
LONGEST_PAUSE = 0.001  # and at most


def lock_path_for(database: Path) -> Path:
    """The lock file of ``database``: beside it, named after it."""
    return database.with_name(database.name + LOCK_SUFFIX)


class _ThreadLockFile:
    """One thread's open file of the lock, closed when the thread's state goes."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.depth = 0

    def __del__(self) -> None:
        os.close(self.fd)


class SqliteWriterLock:
    """Whose turn it is to write the SQLite file at ``database``, across processes."""

    def __init__(self, database: Path, timeout: float) -> None:
        self.path = lock_path_for(database)
        self._timeout = timeout
        self._local = threading.local()

    def _file(self) -> _ThreadLockFile:
        lock_file: _ThreadLockFile | None = getattr(self._local, "file", None)
        if lock_file is None:
            lock_file = _ThreadLockFile(self.path)
            self._local.file = lock_file
        return lock_file

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the writers' turn (at most the timeout), hold it for the block."""
        lock_file = self._file()
        if lock_file.depth:
            lock_file.depth += 1
            try:
                yield
            finally:
                lock_file.depth -= 1
            return
        self._acquire(lock_file.fd)
        lock_file.depth = 1
        try:
            yield
        finally:
            lock_file.depth = 0
            fcntl.flock(lock_file.fd, fcntl.LOCK_UN)

    def _acquire(self, fd: int) -> None:
        deadline = time.monotonic() + self._timeout
        pause = FIRST_PAUSE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                raise StorageUnavailable(
                    f"metadata store busy: no turn to write within {self._timeout:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
