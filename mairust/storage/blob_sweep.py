"""Removing what failed writes leave in a blob store: orphaned blobs and unfinished uploads.

The spool writes a message's blob before its metadata row (DESIGN invariant 1), so a
message that never got its 250 may leave its blob behind: the process was killed between
the two, the metadata store refused the commit, or the blob store took a write whose answer
never arrived (S3 went away mid-request). A write that died half-way leaves an unfinished
upload: a multipart upload S3 could not abort, a ``.tmp-*`` file a killed process never
renamed into place. Nothing reads such leftovers, but they cost storage; the sweep removes
the ones older than a grace period. One algorithm serves every blob store: each backend
only lists what it holds (:class:`SweepableBlobStore`).

Why the grace period makes it safe: every blob holds its message's ``Received:`` header with
a fresh message id, so no two messages share a blob key, and a blob is only young while its
own message is between the write and the commit. A blob older than any such window (the
SMTP and store timeouts: minutes) that no message row names will never be named by one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from mairust.storage.protocols import BlobStore, QueueStore

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(hours=1)
BATCH = 500  # blob keys per question to the metadata store


@dataclass(frozen=True, slots=True)
class WrittenBlob:
    key: str
    written_at: datetime  # aware; the last write (S3 LastModified, file mtime)


@dataclass(frozen=True, slots=True)
class UnfinishedUpload:
    """A write that never completed, as its store names it."""

    name: str  # the object key in the bucket, or the temporary file's path under the root
    started_at: datetime  # aware
    upload_id: str = ""  # S3's multipart upload id; empty for a temporary file


@runtime_checkable
class SweepableBlobStore(BlobStore, Protocol):
    """A blob store that lists what it holds for the sweep (S3BlobStore, FileBlobStore)."""

    def blobs_written_before(self, moment: datetime) -> Iterator[WrittenBlob]:
        """The blobs last written before ``moment`` (aware); nothing but its own blobs."""
        ...

    def delete_if_written_before(self, key: str, moment: datetime) -> bool:
        """Delete blob ``key`` unless it is gone or was written again at or after
        ``moment`` (the listing may be minutes old); whether it was deleted."""
        ...

    def uploads_started_before(self, moment: datetime) -> Iterator[UnfinishedUpload]: ...

    def abort_upload(self, upload: UnfinishedUpload) -> bool:
        """Remove what ``upload`` left; False when it was already gone."""
        ...


@dataclass(frozen=True, slots=True)
class SweepReport:
    examined: int = 0  # blobs older than the grace period
    orphans: int = 0  # of those, named by no message row
    deleted: int = 0  # orphans removed (none on a dry run)
    uploads: int = 0  # unfinished uploads older than the grace period
    uploads_aborted: int = 0  # of those, removed (none on a dry run)


def sweep_orphans(
    metadata: QueueStore,
    blobs: SweepableBlobStore,
    older_than: timedelta = DEFAULT_GRACE,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> SweepReport:
    """Delete blobs older than ``older_than`` that no message row names, and remove
    unfinished uploads started before that; StorageUnavailable when a store is away.
    A dry run counts the same things and removes nothing."""
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    moment = (now or datetime.now(UTC)) - older_than
    examined = orphans = deleted = 0
    for batch in _batches(blobs.blobs_written_before(moment), BATCH):
        examined += len(batch)
        named = metadata.referenced_blob_keys([blob.key for blob in batch])
        for blob in batch:
            if blob.key in named:
                continue
            orphans += 1
            if dry_run:
                log.info("would sweep orphaned blob %s written %s", blob.key, blob.written_at)
            elif blobs.delete_if_written_before(blob.key, moment):
                deleted += 1
                log.info("swept orphaned blob %s written %s", blob.key, blob.written_at)
    uploads = aborted = 0
    for upload in blobs.uploads_started_before(moment):
        uploads += 1
        if dry_run:
            log.info("would abort upload %s started %s", upload.name, upload.started_at)
        elif blobs.abort_upload(upload):
            aborted += 1
            log.info("aborted upload %s started %s", upload.name, upload.started_at)
    return SweepReport(examined, orphans, deleted, uploads, aborted)


def _batches(blobs: Iterable[WrittenBlob], size: int) -> Iterator[list[WrittenBlob]]:
    batch: list[WrittenBlob] = []
    for blob in blobs:
        batch.append(blob)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
