"""cluster/ray_address: the record `mairust up` leaves in its data dir for `cluster status`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cluster.ray_address import (
    ADDRESS_FILE,
    RecordedAddress,
    forget_address,
    record_address,
    recorded_address,
)


def test_a_record_is_read_back_and_forgotten(tmp_path: Path) -> None:
    assert recorded_address(tmp_path) is None
    record_address(tmp_path, "127.0.0.1:6379")
    record = recorded_address(tmp_path)
    assert record is not None and record.address == "127.0.0.1:6379"
    assert record.owner_alive()  # this process wrote it
    forget_address(tmp_path)
    assert not (tmp_path / ADDRESS_FILE).exists()
    forget_address(tmp_path)  # twice is harmless
    assert recorded_address(tmp_path) is None


def test_the_record_of_a_process_that_is_gone_is_told_apart(tmp_path: Path) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    record_address(tmp_path, "127.0.0.1:6379", pid=int(ended.stdout))
    record = recorded_address(tmp_path)
    assert record == RecordedAddress("127.0.0.1:6379", int(ended.stdout))
    assert not record.owner_alive()


def test_an_unreadable_record_counts_as_none(tmp_path: Path) -> None:
    (tmp_path / ADDRESS_FILE).write_text("{not json")
    assert recorded_address(tmp_path) is None
    (tmp_path / ADDRESS_FILE).write_text('{"pid": 1}')
    assert recorded_address(tmp_path) is None
