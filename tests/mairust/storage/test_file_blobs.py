"""Contract tests of the BlobStore role (every backend in conftest.BLOB_BACKENDS),
then what the local-file backend promises about its files."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from mairust.errors import InvalidInput, NotFound, StorageUnavailable
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.protocols import BlobStore

MIB = 1024 * 1024


def test_put_then_get_returns_the_same_bytes(blob_store: BlobStore) -> None:
    data = "Subject: Grüße ☕\r\n\r\nbody\r\n".encode()
    info = blob_store.put(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size == len(data)
    assert blob_store.exists(info.key)
    assert blob_store.get(info.key) == data


def test_ten_mebibytes(blob_store: BlobStore) -> None:
    data = os.urandom(10 * MIB)
    info = blob_store.put(data)
    assert info.size == 10 * MIB
    assert blob_store.get(info.key) == data


def test_empty_blob(blob_store: BlobStore) -> None:
    info = blob_store.put(b"")
    assert blob_store.get(info.key) == b""


def test_identical_content_has_one_key(blob_store: BlobStore) -> None:
    first = blob_store.put(b"same bytes")
    second = blob_store.put(b"same bytes")
    other = blob_store.put(b"other bytes")
    assert first == second
    assert other.key != first.key


def test_missing_blob(blob_store: BlobStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not blob_store.exists(absent)
    with pytest.raises(NotFound):
        blob_store.get(absent)
    blob_store.delete(absent)  # absent keys are ignored


def test_delete(blob_store: BlobStore) -> None:
    info = blob_store.put(b"to be deleted")
    blob_store.delete(info.key)
    assert not blob_store.exists(info.key)
    with pytest.raises(NotFound):
        blob_store.get(info.key)


@pytest.mark.parametrize(
    "key",
    ["../../etc/passwd", "", "ab", "/" + "a" * 64, "A" * 64, "a" * 63 + "/", "a" * 65],
)
def test_malformed_keys_are_refused(blob_store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        blob_store.get(key)
    with pytest.raises(InvalidInput):
        blob_store.exists(key)
    with pytest.raises(InvalidInput):
        blob_store.delete(key)


def test_concurrent_puts_of_the_same_content(blob_store: BlobStore) -> None:
    data = os.urandom(256 * 1024)
    keys: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            keys.append(blob_store.put(data).key)
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(keys)) == 1
    assert blob_store.get(keys[0]) == data


# -- local files -------------------------------------------------------------------


def test_layout_is_content_addressed(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "deep" / "blobs")
    info = store.put(b"hello")
    path = tmp_path / "deep" / "blobs" / info.key[:2] / info.key[2:]
    assert path.read_bytes() == b"hello"
    # no temporary files left behind
    assert [p.name for p in path.parent.iterdir()] == [info.key[2:]]


def test_put_fsyncs_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    info = store.put(b"durable")
    shard = str(tmp_path / "blobs" / info.key[:2])
    assert any(Path(p).parent == Path(shard) and ".tmp-" in p for p in synced)  # the file
    assert synced[-1] == shard  # then the directory holding its new name


def test_a_failed_write_is_unavailable_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileBlobStore(tmp_path / "blobs")

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageUnavailable):
        store.put(b"lost")
    monkeypatch.undo()
    key = hashlib.sha256(b"lost").hexdigest()
    assert not store.exists(key)
    assert list((tmp_path / "blobs" / key[:2]).iterdir()) == []


def test_a_store_reopened_sees_its_blobs(tmp_path: Path) -> None:
    info = FileBlobStore(tmp_path / "blobs").put(b"persisted")
    assert FileBlobStore(tmp_path / "blobs").get(info.key) == b"persisted"
