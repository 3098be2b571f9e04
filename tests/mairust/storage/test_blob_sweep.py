"""The blob sweeper against every blob backend (conftest.BLOB_BACKENDS) and metadata store:
orphans and unfinished uploads older than the grace period go; blobs a message row names
and anything younger than the grace period stay; a dry run removes nothing. Then what each
backend's listing promises on its own."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.errors import InvalidInput
from mairust.model.message import SpoolRecord
from mairust.storage.blob_sweep import (
    SweepableBlobStore,
    SweepReport,
    UnfinishedUpload,
    sweep_orphans,
)
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.protocols import MetadataStore
from mairust.storage.s3_blobs import S3BlobStore
from tests.mairust.storage.conftest import BLOB_BACKENDS
from tests.support.s3_buckets import fresh_s3_blob_store, raw_s3_client, s3_test_url

RecordMaker = Callable[..., SpoolRecord]
KEPT = b"Subject: kept\r\n\r\nnamed by a message row\r\n"
LOST = b"Subject: lost\r\n\r\nits commit never happened\r\n"
HOUR = timedelta(hours=1)


@pytest.fixture(params=sorted(BLOB_BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SweepableBlobStore]:
    opened = BLOB_BACKENDS[request.param](tmp_path)
    assert isinstance(opened, SweepableBlobStore)
    yield opened
    opened.close()


def leave_unfinished_upload(store: SweepableBlobStore) -> None:
    """What a put killed half-way leaves, made behind the store's back."""
    if isinstance(store, S3BlobStore):
        client = raw_s3_client(s3_test_url())
        client.create_multipart_upload(Bucket=store.bucket, Key=f"{store.prefix}/{'0' * 64}")
    elif isinstance(store, FileBlobStore):
        (store.root / "ab" / ".tmp-k1ll3d").write_bytes(b"Subject: half")
    else:
        raise AssertionError(f"no way to leave an upload in {store!r}")


def unfinished_uploads(store: SweepableBlobStore) -> list[UnfinishedUpload]:
    return list(store.uploads_started_before(datetime.now(UTC) + HOUR))


def test_a_fresh_orphan_and_a_fresh_upload_are_kept(
    store: SweepableBlobStore, metadata_store: MetadataStore
) -> None:
    orphan = store.put(LOST)
    leave_unfinished_upload(store)
    report = sweep_orphans(metadata_store, store, HOUR)
    assert report == SweepReport()
    assert store.exists(orphan.key) and len(unfinished_uploads(store)) == 1


def test_old_orphans_and_uploads_go_named_blobs_stay_whatever_their_age(
    store: SweepableBlobStore, metadata_store: MetadataStore, make_record: RecordMaker
) -> None:
    named = store.put(KEPT)
    orphan = store.put(LOST)
    metadata_store.commit_messages([make_record("a@x.test", body=KEPT)])
    leave_unfinished_upload(store)
    years_later = datetime.now(UTC) + timedelta(days=3650)

    report = sweep_orphans(metadata_store, store, HOUR, now=years_later)
    assert report == SweepReport(examined=2, orphans=1, deleted=1, uploads=1, uploads_aborted=1)
    assert store.exists(named.key) and not store.exists(orphan.key)
    assert unfinished_uploads(store) == []
    again = sweep_orphans(metadata_store, store, timedelta(0), now=years_later)
    assert again == SweepReport(examined=1)


def test_a_dry_run_reports_what_would_go_and_removes_nothing(
    store: SweepableBlobStore, metadata_store: MetadataStore, make_record: RecordMaker
) -> None:
    store.put(KEPT)
    orphan = store.put(LOST)
    metadata_store.commit_messages([make_record("a@x.test", body=KEPT)])
    leave_unfinished_upload(store)
    later = datetime.now(UTC) + timedelta(minutes=1)

    dry = sweep_orphans(metadata_store, store, timedelta(0), now=later, dry_run=True)
    assert dry == SweepReport(examined=2, orphans=1, deleted=0, uploads=1, uploads_aborted=0)
    assert store.exists(orphan.key) and len(unfinished_uploads(store)) == 1


def test_a_blob_written_again_after_the_listing_is_kept(
    store: SweepableBlobStore, metadata_store: MetadataStore
) -> None:
    again = store.put(b"Subject: again\r\n\r\nwritten again after the listing\r\n")
    once = store.put(b"Subject: once\r\n\r\nwritten before the listing only\r\n")
    listed_at = datetime.now(UTC)
    time.sleep(1.1)  # S3 keeps whole seconds of LastModified
    store.put(b"Subject: again\r\n\r\nwritten again after the listing\r\n")
    assert not store.delete_if_written_before(again.key, listed_at)
    assert store.exists(again.key)
    assert store.delete_if_written_before(once.key, listed_at)
    assert not store.exists(once.key)
    assert not store.delete_if_written_before(once.key, listed_at)  # gone: nothing to do
    with pytest.raises(ValueError):
        sweep_orphans(metadata_store, store, timedelta(seconds=-1))


# -- each backend on its own ---------------------------------------------------------------


def age(path: Path, by: timedelta) -> None:
    then = time.time() - by.total_seconds()
    os.utime(path, (then, then))


def test_s3_store_aborts_only_uploads_under_its_prefix(tmp_path: Path) -> None:
    store = fresh_s3_blob_store(tmp_path)
    try:
        now = datetime.now(UTC)
        for upload in (
            UnfinishedUpload("elsewhere/" + "0" * 64, now, "an-upload-id"),
            UnfinishedUpload(f"{store.prefix}/{'0' * 64}", now),  # no upload id
        ):
            with pytest.raises(InvalidInput):
                store.abort_upload(upload)
        gone = UnfinishedUpload(f"{store.prefix}/{'0' * 64}", now, "no-such-upload")
        assert not store.abort_upload(gone)
    finally:
        store.close()


def test_file_store_sweeps_by_mtime_and_leaves_foreign_files(
    tmp_path: Path, metadata_store: MetadataStore, make_record: RecordMaker
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    named, old_orphan, new_orphan = (store.put(body) for body in (KEPT, LOST, b"fresh\r\n"))
    metadata_store.commit_messages([make_record("a@x.test", body=KEPT)])
    old_temp, new_temp = store.root / "ab" / ".tmp-old", store.root / "cd" / ".tmp-new"
    foreign = [store.root / "README", store.root / "ef" / "notes.txt"]
    for path in [old_temp, new_temp, *foreign]:
        path.write_bytes(b"x")
    for path in [store.root / named.key[:2] / named.key[2:], old_temp, *foreign]:
        age(path, 2 * HOUR)
    age(store.root / old_orphan.key[:2] / old_orphan.key[2:], 2 * HOUR)

    report = sweep_orphans(metadata_store, store)  # the real clock, the default hour
    assert report == SweepReport(examined=2, orphans=1, deleted=1, uploads=1, uploads_aborted=1)
    assert store.exists(named.key) and store.exists(new_orphan.key)
    assert not store.exists(old_orphan.key)
    assert not old_temp.exists() and new_temp.exists()
    assert all(path.exists() for path in foreign)


def test_file_store_put_of_content_already_there_refreshes_its_write_time(
    tmp_path: Path,
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    blob = store.put(LOST)
    path = store.root / blob.key[:2] / blob.key[2:]
    age(path, 2 * HOUR)
    listed = [b.key for b in store.blobs_written_before(datetime.now(UTC) - HOUR)]
    assert listed == [blob.key]
    store.put(LOST)  # a message with the same bytes, about to be committed
    assert not store.delete_if_written_before(blob.key, datetime.now(UTC) - HOUR)
    assert store.exists(blob.key)


def test_file_store_aborts_only_temporary_files_unchanged_since_listed(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    temp = store.root / "ab" / ".tmp-slow"
    temp.write_bytes(b"x")
    age(temp, 2 * HOUR)
    [upload] = store.uploads_started_before(datetime.now(UTC) - HOUR)
    assert upload.name == "ab/.tmp-slow"
    temp.write_bytes(b"xy")  # its writer is still alive after all
    assert not store.abort_upload(upload)
    assert temp.exists()
    blob = store.put(LOST)
    for name in (f"{blob.key[:2]}/{blob.key[2:]}", "../outside", "ab/../../.tmp-x"):
        with pytest.raises(InvalidInput):
            store.abort_upload(UnfinishedUpload(name, datetime.now(UTC)))
    assert store.exists(blob.key)
