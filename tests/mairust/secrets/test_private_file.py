"""A private file is created once, 0600, whole, and the same for every process."""

from __future__ import annotations

import logging
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mairust.secrets.private_file import read_or_create_private_file


def test_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "key"
    made: list[bytes] = []

    def make() -> bytes:
        made.append(os.urandom(8))
        return made[-1]

    first = read_or_create_private_file(path, make)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_create_private_file(path, make) == first == made[0]
    assert len(made) == 1
    assert [p.name for p in path.parent.iterdir()] == ["key"]  # no temporary left behind


def test_a_file_readable_by_others_is_read_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"kept")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert read_or_create_private_file(path, lambda: b"new") == b"kept"
    assert "readable by others" in caplog.text


def _create(path: str, go: Any, queue: multiprocessing.Queue[bytes]) -> None:
    go.wait()  # start together, so the creations really overlap
    queue.put(read_or_create_private_file(Path(path), lambda: os.urandom(16)))


def test_processes_racing_all_read_the_one_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[bytes] = context.Queue()
    go = context.Event()
    runs = [context.Process(target=_create, args=(str(path), go, queue)) for _ in range(6)]
    for run in runs:
        run.start()
    go.set()
    results = [queue.get(timeout=60) for _ in runs]
    for run in runs:
        run.join(timeout=60)
    assert len(set(results)) == 1
    assert results[0] == path.read_bytes() and len(results[0]) == 16
