"""Free disk space under the data and spool directories, and "the disk is full" errors.

:class:`DiskGuard` answers "is there room for new mail?" from ``statvfs``, read at most
once per ``check_interval_ms`` and cached in between, so the SMTP edge may ask it at
every MAIL and at the end of every DATA without a system call per command.
:func:`is_out_of_space` recognises a real ENOSPC (or quota, SQLite "disk full",
PostgreSQL disk_full) anywhere in an exception's cause chain, so the spool can tell
"the disk is full" (452 4.3.1) from other storage failures (451 4.3.0).
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mairust.config import DiskSettings, Settings

log = logging.getLogger(__name__)

# SQLite's primary result code for "database or disk is full".
_SQLITE_FULL = 13
# PostgreSQL's SQLSTATE disk_full.
_PG_DISK_FULL = "53100"
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

# ``(path) -> os.statvfs_result``; a parameter so tests can hand in a fake disk.
StatVfs = Callable[[str], os.statvfs_result]
Clock = Callable[[], float]


def is_out_of_space(error: BaseException | None) -> bool:
    """True when ``error`` or any cause/context under it says the disk is full."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
            return True
        if getattr(error, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if getattr(error, "sqlstate", None) == _PG_DISK_FULL:
            return True
        # SQLAlchemy keeps the driver's exception in ``orig``.
        orig = getattr(error, "orig", None)
        if isinstance(orig, BaseException) and is_out_of_space(orig):
            return True
        error = error.__cause__ or error.__context__
    return False


@dataclass(frozen=True, slots=True)
class _Reading:
    free: int
    total: int


class DiskGuard:
    """Whether the directories new mail is written to have room above the floor."""

    def __init__(
        self,
        paths: Iterable[Path],
        settings: DiskSettings,
        *,
        statvfs: StatVfs = os.statvfs,
        clock: Clock = time.monotonic,
    ) -> None:
        self._paths = sorted({str(path) for path in paths})
        self._settings = settings
        self._statvfs = statvfs
        self._clock = clock
        self._read_at: float | None = None
        self._readings: list[_Reading] = []
        self.reads = 0  # statvfs calls made, for metrics and tests

    @classmethod
    def from_settings(cls, settings: Settings) -> DiskGuard:
        """Watching the data directory and the blob and SQLite directories when local."""
        return cls(watched_paths(settings), settings.disk)

    @property
    def enabled(self) -> bool:
        floor = self._settings
        return bool(self._paths) and (floor.min_free_bytes > 0 or floor.min_free_percent > 0)

    def low(self, incoming: int = 0) -> bool:
        """True when writing ``incoming`` more bytes would leave any watched filesystem
        below the floor (``min_free_bytes`` or ``min_free_percent``)."""
        if not self.enabled:
            return False
        floor = self._settings
        for reading in self._current():
            left = reading.free - incoming
            if left < floor.min_free_bytes:
                return True
            if reading.total and left * 100.0 / reading.total < floor.min_free_percent:
                return True
        return False

    def _current(self) -> list[_Reading]:
        now = self._clock()
        interval = self._settings.check_interval_ms / 1000.0
        if self._read_at is not None and now - self._read_at < interval:
            return self._readings
        readings = []
        for path in self._paths:
            try:
                stat = self._statvfs(_existing(path))
            except OSError as error:
                # Not knowing is not "full": the write itself still reports a real ENOSPC.
                log.warning("disk space under %s not known: %s", path, error)
                continue
            readings.append(_Reading(stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize))
        self.reads += 1
        self._read_at, self._readings = now, readings
        return readings


def watched_paths(settings: Settings) -> list[Path]:
    """The data directory, plus the blob and SQLite directories when they lie elsewhere."""
    paths = [settings.data_dir]
    blobs = urlsplit(settings.storage.blobs)
    if blobs.scheme == "file" and blobs.path:
        paths.append(Path(blobs.path))
    metadata = settings.storage.metadata
    if metadata.startswith("sqlite:///"):
        paths.append(Path(metadata.removeprefix("sqlite:///")).parent)
    paths.extend(settings.disk.extra_paths)
    return paths


def _existing(path: str) -> str:
    """``path`` or its nearest existing parent (a store makes its folder on first use)."""
    candidate = Path(path)
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    return str(candidate)
