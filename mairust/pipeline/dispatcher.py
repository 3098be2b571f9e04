"""Lease due queue rows from the metadata store and hand them, in batches, to a worker pool.

The store is the queue's truth (invariant 2): the dispatcher holds nothing but
leases. A batch whose worker is lost is handed back to the queue at once; a
dispatcher that dies leaves leases that expire and are leased again, or are handed
back when the same dispatcher (same identity, new incarnation) starts again.
The pool is injected: Ray actors in the cluster, a plain runner in tests.

The loop sleeps until nudged or until its poll timer fires; while every batch slot is
taken it waits for a batch to settle and nothing else. Batching comes from backpressure,
as in the spool's group commit: a lease that found less than a full batch is not followed
by another while batches are in flight, so rows committed meanwhile go out together when
a batch settles, instead of one Ray call per spool commit. It writes a heartbeat to the
store every few seconds, so that ``/healthz`` (another process) can tell a stalled
lease loop from a busy one: see :func:`lease_loop_stall`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from mairust.config import QueueSettings
from mairust.errors import MairustError, StorageUnavailable
from mairust.model.ids import new_id
from mairust.model.queue import QueueItem
from mairust.pipeline.runner import BatchReport
from mairust.storage.protocols import QueueStore

_log = logging.getLogger(__name__)

# The heartbeat's loop name, and how /healthz names the loop when it stalls.
LEASE_LOOP = "dispatcher lease loop"
# Heartbeats are written at most this often (and at least 4 times per stall window).
HEARTBEAT_SECONDS = 5.0


def dispatcher_identity(data_dir: Path, node: str | None = None) -> str:
    """The name a node's dispatcher keeps across restarts: node name + data dir.

    Lease owners are ``<identity>/<incarnation>``; a dispatcher that starts again
    hands back its earlier incarnations' leases, and nobody else's.
    """
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return f"dispatcher@{node or platform.node() or 'localhost'}:{digest}"


def owner_prefix(identity: str) -> str:
    """What every lease owner of ``identity`` starts with."""
    return f"{identity}/"


def new_incarnation(identity: str) -> str:
    """A fresh lease owner for one run of the dispatcher ``identity``."""
    return f"{owner_prefix(identity)}{new_id()}"


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
        metadata: QueueStore,
        pool: WorkerPool,
        owner: str,
        settings: QueueSettings,
        max_in_flight: int,
        *,
        instance: str | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        """``owner`` signs the leases; ``instance`` (default: the owner) keys the heartbeat
        row and stays the same across restarts; ``on_progress`` is called after every
        lease the store answered (a supervisor's ``progress``)."""
        self._metadata = metadata
        self._pool = pool
        self._owner = owner
        self._instance = instance or owner
        self._settings = settings
        self._max_in_flight = max_in_flight
        self._on_progress = on_progress
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._stopping = False
        self._beat_interval = min(HEARTBEAT_SECONDS, settings.stall_seconds / 4)
        self._last_beat: float | None = None
        self.stats = DispatchStats()
        # Queue rows in the batches in flight (the pool scaler's measure of the work held).
        self.rows_in_flight = 0

    def nudge(self) -> None:
        """New rows were committed: lease now instead of at the next poll."""
        self._wake.set()

    def resize(self, max_in_flight: int) -> None:
        """The pool changed size: this many batches in flight from now on (batches above
        a smaller limit finish; none is started until the count is below it)."""
        self._max_in_flight = max(1, max_in_flight)
        self._slot_freed.set()
        self._wake.set()

    async def run(self) -> None:
        """Run until ``stop()``. Store outages are logged and retried; any other error
        ends ``run()`` with batches still in flight, for a supervisor to run it again."""
        while not self._stopping:
            self.stats.loop_turns += 1
            if len(self._in_flight) >= self._max_in_flight:
                # Every slot taken: a nudge cannot be served now; it stays set for later.
                await self._wait_for_a_free_slot()
                continue
            self._wake.clear()
            items = await self._lease()
            if items:
                self._start(items)
                if len(items) == self._settings.batch_size:
                    continue  # a full batch: more is probably due
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
        self._wake.set()
        self._slot_freed.set()
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
        if self._on_progress is not None:
            self._on_progress()
        await self._heartbeat()
        return items

    async def _heartbeat(self) -> None:
        """Tell the store (and so /healthz) that the loop leased, every few seconds."""
        now = time.monotonic()
        if self._last_beat is not None and now - self._last_beat < self._beat_interval:
            return
        self._last_beat = now
        try:
            await asyncio.to_thread(
                self._metadata.record_heartbeat, LEASE_LOOP, self._instance, datetime.now(UTC)
            )
        except StorageUnavailable as exc:
            _log.warning("cannot record the lease loop's heartbeat: %s", exc)

    async def _sleep(self) -> None:
        """Until a nudge, stop() or the poll timer; batches settling do not wake us
        (their rows are settled by the workers, nothing new becomes due)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._settings.poll_interval):
                await self._wake.wait()

    async def _wait_for_a_free_slot(self) -> None:
        self._slot_freed.clear()
        while len(self._in_flight) >= self._max_in_flight and not self._stopping:
            await self._slot_freed.wait()
            self._slot_freed.clear()

    async def _wait_for_a_batch(self) -> None:
        """Until a batch in flight settles, stop() or the poll timer: rows committed
        meanwhile are leased together then."""
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._settings.poll_interval):
                await self._slot_freed.wait()

    def _start(self, items: list[QueueItem]) -> None:
        task = asyncio.create_task(self._dispatch(items))
        self._in_flight.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and (error := task.exception()) is not None:
            # _dispatch hands back what it can; anything left is found when the lease expires.
            _log.error("a dispatched batch failed unexpectedly", exc_info=error)

    async def _dispatch(self, items: list[QueueItem]) -> None:
        self.stats.batches += 1
        self.rows_in_flight += len(items)
        try:
            await self._process(items)
        finally:
            self.rows_in_flight -= len(items)

    async def _process(self, items: list[QueueItem]) -> None:
        try:
            report = await self._pool.process(items, self._owner)
        except WorkerLost as exc:
            _log.warning("worker lost with %d rows; handing them back: %s", len(items), exc)
            await self._hand_back(items, str(exc))
            self.stats.lost_batches += 1  # counted once its rows are back in the queue
            return
        except Exception as exc:
            # A pool that fails in a way it does not know: the outcome is as unknown as
            # with a lost worker, so the rows go back the same way (effects are idempotent).
            _log.exception("worker pool failed with %d rows; handing them back", len(items))
            await self._hand_back(items, f"{type(exc).__name__}: {exc}")
            self.stats.lost_batches += 1
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


@dataclass(frozen=True, slots=True)
class LeaseLoopStall:
    """Due rows wait longer than the stall window and no lease loop leased in it."""

    oldest_due_seconds: float
    last_lease_seconds: float | None

    def describe(self) -> str:
        last = (
            "no lease recorded"
            if self.last_lease_seconds is None
            else f"last lease {self.last_lease_seconds:.0f} s ago"
        )
        return f"{LEASE_LOOP} stalled: oldest due row {self.oldest_due_seconds:.0f} s old, {last}"


def lease_loop_stall(
    metadata: QueueStore, stall_seconds: float, now: datetime | None = None
) -> LeaseLoopStall | None:
    """The stall, if due rows have waited over ``stall_seconds`` while no dispatcher's
    lease loop has leased for as long; None when the queue moves (or nothing is due)."""
    moment = now or datetime.now(UTC)
    due_since = metadata.oldest_due_at(moment)
    if due_since is None:
        return None
    waited = (moment - due_since).total_seconds()
    if waited <= stall_seconds:
        return None
    beat = metadata.last_heartbeat(LEASE_LOOP)
    since_beat = None if beat is None else (moment - beat).total_seconds()
    if since_beat is not None and since_beat <= stall_seconds:
        return None
    return LeaseLoopStall(oldest_due_seconds=waited, last_lease_seconds=since_beat)
