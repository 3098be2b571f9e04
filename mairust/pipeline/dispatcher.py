"""Lease due queue rows from the metadata store and hand them, in batches, to a worker pool.

The store is the queue's truth (invariant 2): the dispatcher holds nothing but
leases. A batch whose worker is lost is handed back to the queue at once; a
dispatcher that dies leaves leases that expire and are leased again.
The pool is injected: Ray actors in the cluster, a plain runner in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from mairust.config import QueueSettings
from mairust.errors import MairustError, StorageUnavailable
from mairust.model.queue import QueueItem
from mairust.pipeline.runner import BatchReport
from mairust.storage.protocols import MetadataStore

_log = logging.getLogger(__name__)


class WorkerLost(MairustError):
    """The worker died or could not be reached; the batch's outcome is unknown."""


class WorkerPool(Protocol):
    async def process(self, items: Sequence[QueueItem], owner: str) -> BatchReport:
        """Process one batch; raise WorkerLost when the worker is gone."""
        ...


@dataclass(slots=True)
class DispatchStats:
    batches: int = 0
    rows_leased: int = 0
    delivered: int = 0
    deferred: int = 0
    failed: int = 0
    lost_batches: int = 0
    # Turns of the lease loop: a loop that spins shows here, not in leases.
    loop_turns: int = 0


class QueueDispatcher:
    """The lease loop: lease, dispatch, repeat; sleeps until nudged or the poll interval."""

    def __init__(
        self,
        metadata: MetadataStore,
        pool: WorkerPool,
        owner: str,
        settings: QueueSettings,
        max_in_flight: int,
    ) -> None:
        self._metadata = metadata
        self._pool = pool
        self._owner = owner
        self._settings = settings
        self._max_in_flight = max_in_flight
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._stopping = False
        self.stats = DispatchStats()

    def nudge(self) -> None:
        """New rows were committed: lease now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Run until ``stop()``; store outages are logged and retried, never fatal.

        Batching comes from backpressure, as in the spool's group commit: a lease that
        found fewer rows than a full batch is not followed by another while batches are
        in flight, so rows committed meanwhile wait for a worker to come free and then
        go out together, instead of one Ray call per spool commit.
        """
        while not self._stopping:
            self.stats.loop_turns += 1
            if len(self._in_flight) >= self._max_in_flight:
                await self._wait_for_a_batch()
                continue
            self._wake.clear()
            items = await self._lease()
            if items:
                task = asyncio.create_task(self._dispatch(items))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                if len(items) >= self._settings.batch_size:
                    continue  # more may be due right now
            if self._in_flight:
                await self._wait_for_a_batch()
            else:
                await self._sleep()
        # A batch leased just before stop() was asked may still be starting: see it through.
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """Stop leasing; wait for batches in flight (their rows are settled by the workers)."""
        self._stopping = True
        self._stop_requested.set()
        self._wake.set()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=grace_seconds)

    async def _lease(self) -> list[QueueItem]:
        try:
            items = await asyncio.to_thread(
                self._metadata.lease_batch,
                self._owner,
                self._settings.batch_size,
                self._settings.lease_seconds,
            )
        except StorageUnavailable as exc:
            _log.warning("cannot lease from the queue: %s", exc)
            return []
        self.stats.rows_leased += len(items)
        return items

    async def _sleep(self) -> None:
        """Nothing in flight: wait for a nudge, or the poll timer (due retries, lost nudges)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval)

    async def _wait_for_a_batch(self) -> None:
        """Wait until a batch in flight settles (or the poll timer, or stop())."""
        stopping = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait(
                {*self._in_flight, stopping},
                timeout=self._settings.poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopping.cancel()

    async def _dispatch(self, items: list[QueueItem]) -> None:
        self.stats.batches += 1
        try:
            report = await self._pool.process(items, self._owner)
        except WorkerLost as exc:
            self.stats.lost_batches += 1
            _log.warning("worker lost with %d rows; handing them back: %s", len(items), exc)
            await self._hand_back(items, str(exc))
            return
        self.stats.delivered += report.delivered
        self.stats.deferred += report.deferred
        self.stats.failed += report.failed

    async def _hand_back(self, items: list[QueueItem], reason: str) -> None:
        # Due again after one poll interval: soon enough for a restarted worker, and no
        # hot loop while a worker keeps dying.
        retry_at = datetime.now(UTC) + timedelta(seconds=self._settings.poll_interval)
        error = f"4.3.0 worker lost: {reason}"
        # If the store is down too, the leases expire and the rows are leased again.
        with contextlib.suppress(StorageUnavailable):
            await asyncio.to_thread(
                self._metadata.settle,
                self._owner,
                deferred=[(item.id, error, retry_at) for item in items],
            )
