"""The blob sweeper on the real S3 test server: orphans and unfinished uploads go, blobs a
message row names and blobs younger than the grace period stay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.model.message import SpoolRecord
from mairust.storage.blob_sweep import sweep_orphans
from mairust.storage.s3_blobs import S3BlobStore
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_migrations import upgrade_to_head
from tests.support.s3_buckets import raw_s3_client, s3_test_url, with_fresh_prefix

RecordMaker = Callable[..., SpoolRecord]
KEPT = b"Subject: kept\r\n\r\nnamed by a message row\r\n"


@pytest.fixture
def url() -> str:
    return with_fresh_prefix(s3_test_url())


@pytest.fixture
def store(url: str) -> Iterator[S3BlobStore]:
    blobs = S3BlobStore.from_url(url)
    yield blobs
    blobs.close()


@pytest.fixture
def metadata(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head(url)
    opened = SqlMetadataStore(url)
    yield opened
    opened.close()


def test_orphans_and_unfinished_uploads_go_named_blobs_stay(
    url: str, store: S3BlobStore, metadata: SqlMetadataStore, make_record: RecordMaker
) -> None:
    named = store.put(KEPT)
    orphan = store.put(b"Subject: lost\r\n\r\nits commit never happened\r\n")
    metadata.commit_messages([make_record("a@x.test", body=KEPT)])
    client = raw_s3_client(url)  # behind the store's back: an upload whose put died mid-way
    client.create_multipart_upload(Bucket=store.bucket, Key=f"{store.prefix}/{'0' * 64}")
    later = datetime.now(UTC) + timedelta(minutes=1)

    young = sweep_orphans(metadata, store, timedelta(hours=1))
    assert (young.examined, young.deleted, young.uploads_aborted) == (0, 0, 0)
    dry = sweep_orphans(metadata, store, timedelta(0), now=later, dry_run=True)
    assert (dry.examined, dry.orphans, dry.deleted) == (2, 1, 0)
    assert store.exists(orphan.key)

    report = sweep_orphans(metadata, store, timedelta(0), now=later)
    assert (report.examined, report.orphans, report.deleted, report.uploads_aborted) == (
        2,
        1,
        1,
        1,
    )
    assert store.exists(named.key) and not store.exists(orphan.key)
    uploads = client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{store.prefix}/")
    assert uploads.get("Uploads", []) == []


def test_a_blob_written_again_meanwhile_is_kept(
    store: S3BlobStore, metadata: SqlMetadataStore
) -> None:
    blob = store.put(b"Subject: again\r\n\r\nwritten again after the listing\r\n")
    listed_at = datetime.now(UTC) - timedelta(seconds=30)  # the listing saw it as older
    assert not store.delete_if_written_before(blob.key, listed_at)
    assert store.exists(blob.key)
    with pytest.raises(ValueError):
        sweep_orphans(metadata, store, timedelta(seconds=-1))
