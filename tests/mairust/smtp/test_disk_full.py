"""A full disk at the SMTP edge: a real ENOSPC (a small tmpfs as the data directory)
and the free-space floor both answer 452 4.3.1; what was accepted before stays intact,
and mail is accepted again once there is room."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import smtplib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mairust.config import DiskSettings
from mairust.disk_space import DiskGuard
from mairust.storage.file_blobs import FileBlobStore

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import Mta, StartMta

ALICE = "alice@example.test"
SENDER = "sender@remote.test"
QUEUED = re.compile(r"2\.0\.0 Ok: queued as ([0-9A-Z]{26})")
# Clients come from addresses of their own (not the trusted 127.0.0.1).
CLIENTS = ("127.0.0.36", "127.0.0.37", "127.0.0.38")
NO_FLOOR = DiskSettings(min_free_bytes=0, min_free_percent=0)


@pytest.fixture
def tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 4 MiB tmpfs in place of the test's folder: the stores of the SMTP fixtures
    (data directory, SQLite database, blobs) live on a disk the test can fill."""
    root = tmp_path_factory.mktemp("small-disk")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)], check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=True)


def message(label: str, size: int) -> bytes:
    head = f"From: {SENDER}\r\nSubject: {label}\r\n\r\n".encode()
    line = (label * 80)[:76].encode() + b"\r\n"
    return head + line * (size // len(line) + 1)


def send(port: int, body: bytes, client: str = CLIENTS[0]) -> tuple[int, str]:
    """One transaction; the reply to MAIL if refused, else the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(client, 0)) as smtp:
        smtp.ehlo("client.test")
        code, text = smtp.mail(SENDER)
        if code != 250:
            return code, text.decode()
        assert smtp.rcpt(ALICE)[0] == 250
        code, text = smtp.data(body)
        # The session survives the refusal: the front-end is up and talking.
        assert smtp.noop()[0] == 250
        return code, text.decode()


def fill(root: Path) -> Path:
    """Write a file until the filesystem says ENOSPC; the file is left in place."""
    filler = root / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return filler


def queued_id(reply: tuple[int, str]) -> str:
    code, text = reply
    assert code == 250, reply
    found = QUEUED.search(text)
    assert found is not None, text
    return found[1]


def assert_intact(mta: Mta, message_id: str, body: bytes) -> None:
    assert mta.recipients_of(message_id) == [ALICE]
    assert mta.body_of(message_id).endswith(body)


async def test_enospc_in_blob_write_is_452_and_harms_nothing_accepted(
    tmp_path: Path, start_mta: StartMta
) -> None:
    mta = await start_mta(disk=DiskGuard([tmp_path], NO_FLOOR))
    before = message("before", 20_000)
    first = queued_id(await asyncio.to_thread(send, mta.port, before))
    filler = fill(tmp_path)

    code, text = await asyncio.to_thread(send, mta.port, message("full", 200_000), CLIENTS[1])
    assert (code, text) == (452, "4.3.1 Insufficient system storage")
    assert_intact(mta, first, before)
    assert not any(path.name.startswith(".") for path in mta.blob_files())  # no half blob

    filler.unlink()
    after = message("after", 20_000)
    second = queued_id(await asyncio.to_thread(send, mta.port, after, CLIENTS[2]))
    assert_intact(mta, first, before)
    assert_intact(mta, second, after)


async def test_enospc_in_sqlite_commit_is_452_and_leaves_the_db_usable(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, start_mta: StartMta
) -> None:
    # Bodies on a roomy disk, so the metadata commit is what meets the full one.
    blobs = FileBlobStore(tmp_path_factory.mktemp("roomy-blobs"))
    mta = await start_mta(blobs=blobs, disk=DiskGuard([tmp_path], NO_FLOOR))
    before = message("before", 2_000)
    first = queued_id(await asyncio.to_thread(send, mta.port, before))
    # An empty WAL: the next commit must grow a file on the full disk.
    with sqlite3.connect(tmp_path / "metadata.db") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = fill(tmp_path)

    code, text = await asyncio.to_thread(send, mta.port, message("full", 2_000), CLIENTS[1])
    assert (code, text) == (452, "4.3.1 Insufficient system storage")
    assert mta.spool.batches_failed == 1

    filler.unlink()
    after = message("after", 2_000)
    second = queued_id(await asyncio.to_thread(send, mta.port, after, CLIENTS[2]))
    assert mta.recipients_of(first) == [ALICE] and mta.recipients_of(second) == [ALICE]


async def test_below_the_floor_mail_and_data_get_452(tmp_path: Path, start_mta: StartMta) -> None:
    stat = os.statvfs(tmp_path)
    room = stat.f_bavail * stat.f_frsize
    # Above the floor with room for a small message, not for a 300 kB one.
    floor = DiskSettings(min_free_bytes=room - 150_000, min_free_percent=0, check_interval_ms=0)
    mta = await start_mta(disk=DiskGuard([tmp_path], floor))
    small = queued_id(await asyncio.to_thread(send, mta.port, message("small", 1_000)))
    code, text = await asyncio.to_thread(send, mta.port, message("big", 300_000), CLIENTS[1])
    assert (code, text) == (452, "4.3.1 Insufficient system storage")  # at the end of DATA
    assert mta.recipients_of(small) == [ALICE]

    lower = DiskSettings(min_free_bytes=room + 1, min_free_percent=0)
    mta = await start_mta(disk=DiskGuard([tmp_path], lower))
    code, text = await asyncio.to_thread(send, mta.port, message("any", 1_000), CLIENTS[2])
    assert (code, text) == (452, "4.3.1 Insufficient system storage")  # at MAIL
