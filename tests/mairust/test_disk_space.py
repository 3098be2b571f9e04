"""DiskGuard: the free-space floor from a cached statvfs; is_out_of_space on cause chains."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from mairust.config import DiskSettings, Settings
from mairust.disk_space import DiskGuard, is_out_of_space, watched_paths
from mairust.errors import StorageUnavailable

MIB = 1024 * 1024


class FakeDisk:
    """A filesystem of ``total`` bytes with ``free`` of them free; counts statvfs calls."""

    def __init__(self, total: int, free: int) -> None:
        self.total, self.free, self.calls = total, free, 0

    def __call__(self, path: str) -> os.statvfs_result:
        self.calls += 1
        blocks, free = self.total // 4096, self.free // 4096
        return os.statvfs_result((4096, 4096, blocks, free, free, 100, 50, 50, 0, 255))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def guard(disk: FakeDisk, clock: Clock | None = None, **floor: float) -> DiskGuard:
    settings = DiskSettings(**{"min_free_bytes": 0, "min_free_percent": 0, **floor})
    return DiskGuard([Path("/data")], settings, statvfs=disk, clock=clock or Clock())


def test_the_byte_floor_counts_the_incoming_message() -> None:
    disk = FakeDisk(total=1000 * MIB, free=100 * MIB)
    checked = guard(disk, min_free_bytes=64 * MIB)
    assert not checked.low()
    assert not checked.low(incoming=36 * MIB)
    assert checked.low(incoming=36 * MIB + 4096)


def test_the_percent_floor() -> None:
    checked = guard(FakeDisk(total=1000 * MIB, free=9 * MIB), min_free_percent=1.0)
    assert checked.low()
    assert not guard(FakeDisk(total=1000 * MIB, free=11 * MIB), min_free_percent=1.0).low()


def test_statvfs_is_read_at_most_once_per_interval() -> None:
    disk, clock = FakeDisk(total=1000 * MIB, free=100 * MIB), Clock()
    checked = guard(disk, clock, min_free_bytes=64 * MIB, check_interval_ms=500)
    for _ in range(1000):
        assert not checked.low()
    assert disk.calls == 1
    disk.free = 10 * MIB
    clock.now += 0.4
    assert not checked.low()  # still the cached reading
    clock.now += 0.1
    assert checked.low() and disk.calls == 2


def test_no_floor_reads_nothing() -> None:
    disk = FakeDisk(total=1000 * MIB, free=0)
    assert not guard(disk).low() and disk.calls == 0


def test_an_unreadable_path_is_not_full() -> None:
    def broken(path: str) -> os.statvfs_result:
        raise PermissionError(errno.EACCES, "denied")

    settings = DiskSettings(min_free_bytes=MIB)
    assert not DiskGuard([Path("/data")], settings, statvfs=broken).low()


def test_the_defaults_have_a_floor() -> None:
    defaults = DiskSettings()
    assert defaults.min_free_bytes == 64 * MIB and defaults.min_free_percent == 1.0


def test_watched_paths_take_local_stores_kept_apart(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        storage={"blobs": f"file://{tmp_path}/spool", "metadata": f"sqlite:///{tmp_path}/db/m.db"},
        disk={"extra_paths": [str(tmp_path / "more")]},
    )
    expected = [tmp_path / "data", tmp_path / "spool", tmp_path / "db", tmp_path / "more"]
    assert watched_paths(settings) == expected
    remote = Settings(
        data_dir=tmp_path, storage={"blobs": "s3://bucket/x", "metadata": "postgresql://h/db"}
    )
    assert watched_paths(remote) == [tmp_path]


def _raised(error: BaseException, cause: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as caught:
        return caught


def test_is_out_of_space_walks_the_cause_chain() -> None:
    enospc = OSError(errno.ENOSPC, "No space left on device")
    assert is_out_of_space(_raised(StorageUnavailable("blob write failed"), enospc))
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    assert is_out_of_space(_raised(StorageUnavailable("commit failed"), full))
    assert not is_out_of_space(_raised(StorageUnavailable("x"), OSError(errno.EIO, "io")))
    assert not is_out_of_space(StorageUnavailable("no cause"))
    assert not is_out_of_space(None)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_quota_and_enospc_are_both_full(code: int) -> None:
    assert is_out_of_space(OSError(code, "full"))
