"""Removing entries for good, and the message bodies nothing needs any more.

The metadata store decides, in one transaction, which entries go and which blob keys no
message row names after that (``MetadataStore.purge_entries``). The blobs are deleted
after the commit, and only when not written since ``now - grace``: a delivery of the same
bytes (blob keys are content hashes) writes, or re-stamps, its blob BEFORE it commits the
message row that names it (DESIGN invariant 1). So a delivery whose row the transaction did
not see either wrote the blob within the grace period (kept: the orphan sweep,
:mod:`mairust.storage.blob_sweep`, collects it later if nothing names it) or will write it
after the delete (a fresh blob). This is the sweep's own argument, with the same grace.

Search documents are removed after the commit too; if search is down they stay behind
harmlessly (hits are resolved through the metadata store, which no longer has the entry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mairust.errors import MairustError
from mairust.model.scope import Scope
from mairust.storage.blob_sweep import DEFAULT_GRACE, SweepableBlobStore
from mairust.storage.stores import Stores

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PurgeOutcome:
    entry_ids: tuple[str, ...]  # the entries removed
    blobs_deleted: int  # message bodies removed now (others wait for the orphan sweep)


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    trash: int  # Trash entries purged
    junk: int  # Junk entries purged
    blobs_deleted: int


def wall_clock() -> datetime:
    return datetime.now(UTC)


class BlobPurger:
    """Purges entries, then the blobs the purge freed (see the module's docstring)."""

    def __init__(
        self,
        stores: Stores,
        grace: timedelta | None = None,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        # Blob write times are the storage's wall-clock times: compare them with one.
        self._stores = stores
        self._grace = DEFAULT_GRACE if grace is None else grace
        self._clock = clock

    def purge(self, scope: Scope, entry_ids: Sequence[str], folder: str | None) -> PurgeOutcome:
        moment = self._clock() - self._grace  # taken before the transaction decides
        purged = self._stores.metadata.purge_entries(scope, entry_ids, folder)
        if purged.entry_ids:
            try:
                self._stores.search.delete(purged.entry_ids)
            except (MairustError, OSError) as error:
                log.warning(
                    "search documents of %d purged entries stay: %s", len(purged.entry_ids), error
                )
        deleted = 0
        blobs = self._stores.blobs
        for key in purged.blob_keys:
            if not isinstance(blobs, SweepableBlobStore):
                log.info("blob %s left for the orphan sweep", key)
            elif blobs.delete_if_written_before(key, moment):
                deleted += 1
            else:
                log.info("blob %s written within the grace period: left for the sweep", key)
        return PurgeOutcome(purged.entry_ids, deleted)
