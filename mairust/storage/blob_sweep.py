"""Removing what failed writes leave in a blob store: orphaned blobs and unfinished uploads.

The spool writes a message's blob before its metadata row (DESIGN invariant 1), so a
message that never got its 250 may leave its blob behind: the process was killed between
the two, the metadata store refused the commit, or the blob store took a write whose answer
never arrived (S3 went away mid-request). A multipart upload that failed while S3 was away
could not abort itself either. Nothing reads such leftovers, but they cost storage; the
sweep removes the ones older than a grace period.

Why the grace period makes it safe: every blob holds its message's ``Received:`` header with
a fresh message id, so no two messages share a blob key, and a blob is only young while its
own message is between the write and the commit. A blob older than any such window (the
SMTP and store timeouts: minutes) that no message row names will never be named by one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from mairust.storage.protocols import QueueStore

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(hours=1)


class SweepableBlobStore(Protocol):
    """A blob store that can list its blobs by age (S3BlobStore)."""

    def keys_written_before(self, moment: datetime) -> Iterator[list[str]]: ...

    def delete_if_written_before(self, key: str, moment: datetime) -> bool: ...

    def abort_uploads_started_before(self, moment: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class SweepReport:
    examined: int = 0  # blobs older than the grace period
    orphans: int = 0  # of those, named by no message row
    deleted: int = 0  # orphans removed (none on a dry run)
    uploads_aborted: int = 0


def sweep_orphans(
    metadata: QueueStore,
    blobs: SweepableBlobStore,
    older_than: timedelta = DEFAULT_GRACE,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> SweepReport:
    """Delete blobs older than ``older_than`` that no message row names, and abort
    multipart uploads started before that; StorageUnavailable when a store is away."""
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    moment = (now or datetime.now(UTC)) - older_than
    examined = orphans = deleted = 0
    for keys in blobs.keys_written_before(moment):
        examined += len(keys)
        named = metadata.referenced_blob_keys(keys)
        for key in keys:
            if key in named:
                continue
            orphans += 1
            if not dry_run and blobs.delete_if_written_before(key, moment):
                deleted += 1
                log.info("swept orphaned blob %s", key)
    aborted = 0 if dry_run else blobs.abort_uploads_started_before(moment)
    return SweepReport(examined, orphans, deleted, aborted)
