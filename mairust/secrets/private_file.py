"""A private file created once: the admin token and the embedded master key live in one.

The first process to need the file writes it, readable by its owner only (0600); every
later process (another Ray worker, the next start) reads what the first wrote. The file
appears whole or not at all: it is written under a temporary name, flushed to disk, then
hard-linked into place, which fails if another process got there first (that one's
content wins and is read back). ``O_EXCL`` alone would let a second process read a file
the first has created but not yet written.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_MODE = 0o600


def read_or_create_private_file(path: Path, make_content: Callable[[], bytes]) -> bytes:
    """The content of ``path``; if it does not exist, create it (0600) with ``make_content()``.

    Safe when several processes call it at once: all of them return the same content.
    """
    try:
        return _read_private(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per call: two threads of one process may race as well.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make_content())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: its content is the one
        else:
            _fsync_directory(path.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_private(path)


def _read_private(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o): chmod 600 it", path, mode)
    return path.read_bytes()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
