"""The spool's commit, the leased queue, and entries waiting for the search index.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mairust.events import Event
from mairust.model.message import Envelope, SpoolRecord
from mairust.model.queue import QueueItem, QueueState


class QueueStore(Protocol):
    """The spool's commit, the per-recipient queue rows it creates, and the heartbeats of
    the loop that leases them."""

    # -- spool ------------------------------------------------------------------
    def commit_messages(self, records: Sequence[SpoolRecord], events: Sequence[Event] = ()) -> None:
        """Insert each message row and one QUEUED row per recipient, all in ONE transaction,
        with each record's events and ``events`` (refusals noted meanwhile) in it too.

        Returns only after the transaction is durable (this is the 250 promise);
        raises StorageUnavailable if it is not.
        """
        ...

    # -- queue ------------------------------------------------------------------
    def lease_batch(self, owner: str, limit: int, lease_seconds: float) -> list[QueueItem]:
        """Claim up to ``limit`` due rows: QUEUED with next_attempt_at <= now, or LEASED
        with an expired lease. Sets LEASED, lease_owner, lease_until and attempts += 1."""
        ...

    def ack(self, item_ids: Sequence[int], owner: str) -> int:
        """Mark rows DONE; only rows still leased by ``owner`` change. Returns rows changed."""
        ...

    def defer(self, item_id: int, owner: str, error: str, retry_at: datetime) -> None:
        """Back to QUEUED with next_attempt_at = retry_at and last_error = error."""
        ...

    def fail(self, item_id: int, owner: str, error: str) -> None:
        """Mark FAILED (permanent) with last_error = error."""
        ...

    def settle(
        self,
        owner: str,
        done: Sequence[int] = (),
        deferred: Sequence[tuple[int, str, datetime]] = (),
        failed: Sequence[tuple[int, str]] = (),
        events: Sequence[tuple[int, Event]] = (),
    ) -> None:
        """A whole batch's outcomes in ONE transaction: ``done`` rows DONE, ``deferred``
        (id, error, retry_at) back to QUEUED, ``failed`` (id, error) FAILED, and the
        ``events`` (row id, event) that tell it. As with ack/defer/fail, only rows still
        leased by ``owner`` change, and only their events are kept."""
        ...

    def release_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        """Put back to QUEUED, due now, every LEASED row whose lease_owner starts with
        ``owner_prefix``, except those ``keep_owner`` holds; returns the rows released.

        A dispatcher's owner is ``<identity>/<incarnation>``: at start it releases
        ``<identity>/`` but keeps its own incarnation, so leases of other dispatchers
        (other nodes, other data dirs) are left alone. An empty prefix is a ValueError.
        """
        ...

    def oldest_due_at(self, now: datetime) -> datetime | None:
        """Since when the longest-waiting due row has been due: the earliest
        next_attempt_at of QUEUED rows due by ``now``, or lease_until of an expired
        lease, whichever is earlier; None when nothing is due."""
        ...

    def list_queue(self, state: QueueState | None = None, limit: int = 100) -> list[QueueItem]: ...

    def queue_counts(self) -> dict[QueueState, int]: ...

    def due_queue_rows(self, now: datetime) -> int:
        """Rows a lease would take at ``now``: QUEUED and due, or LEASED with an expired
        lease (the pool scaler's measure of work waiting)."""
        ...

    def referenced_blob_keys(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` that some message row names as its blob (the blob sweeper's
        question: a blob no row names is an orphan)."""
        ...

    # -- loop heartbeats --------------------------------------------------------
    def record_heartbeat(self, loop: str, instance: str, at: datetime) -> None:
        """Remember that ``instance`` of ``loop`` made progress at ``at`` (overwrites)."""
        ...

    def last_heartbeat(self, loop: str) -> datetime | None:
        """The newest heartbeat of any instance of ``loop``; None if none was recorded."""
        ...

    def message_envelopes(self, message_ids: Sequence[str]) -> dict[str, Envelope]:
        """The envelope each message was accepted with (those found), for the hooks the
        pipeline runs (``pre_delivery``)."""
        ...


class SearchBacklog(Protocol):
    """Entries whose indexing failed, kept durably until the indexer catches up."""

    def add_to_search_backlog(self, entry_ids: Sequence[str]) -> None:
        """Remember entries whose indexing failed (durably; duplicates ignored)."""
        ...

    def search_backlog(self, limit: int = 500) -> list[str]:
        """Entry ids waiting to be indexed, oldest first."""
        ...

    def remove_from_search_backlog(self, entry_ids: Sequence[str]) -> None: ...

    def search_backlog_size(self) -> int: ...
