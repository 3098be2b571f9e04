"""``LeasedLoop``: what the loops over a leased table share (the webhook outbox's delivery
loop, the hook job loop; the queue's dispatcher has its own, batch-slot driven).

Each (re)start is a new incarnation, ``<identity>/<new id>``, whose first act hands back
what earlier runs of the same identity still hold, so a failed run's leases go back to the
table at once (with the store down, they expire instead). Then rounds while work is due: a
store outage is waited out (logged, next round), any other error propagates to the
supervisor (restart with backoff); a round that leased less than a full batch waits for a
nudge or the poll interval; each round that reached the store is progress told to the
supervisor, so a stuck loop shows in its report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from typing import ClassVar

from mairust.errors import StorageUnavailable
from mairust.model.ids import new_id
from mairust.supervision import Backoff, Supervisor

_log = logging.getLogger(__name__)

LOOP_BACKOFF = Backoff(give_up_after=8)


class LeasedLoop(ABC):
    # The loop's name in logs and supervisor reports; what its table's rows are called.
    loop_name: ClassVar[str]
    rows: ClassVar[str]

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.owner = f"{identity}/{new_id()}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._supervisor: Supervisor | None = None
        self.rounds = 0

    @property
    @abstractmethod
    def batch_size(self) -> int: ...

    @property
    @abstractmethod
    def poll_interval(self) -> float: ...

    @abstractmethod
    def release_leases(self, owner_prefix: str, keep_owner: str) -> int:
        """Hand back the rows leased by owners starting with ``owner_prefix``, except
        ``keep_owner``'s (blocking: run in a thread); how many."""

    @abstractmethod
    async def leased_round(self) -> int:
        """One round; how many rows it leased."""

    def supervisor(self, backoff: Backoff = LOOP_BACKOFF) -> Supervisor:
        """A supervisor that runs :meth:`run` (and is told of its progress)."""
        self._supervisor = Supervisor(self.loop_name, self.run, backoff)
        return self._supervisor

    async def _take_back_earlier_leases(self) -> None:
        """Hand back what earlier runs hold. A store that is down is no failure here
        either: those leases expire instead (as the dispatcher's do), and the rounds wait
        the outage out. Raised to the supervisor, an outage at a (re)start counted as a
        failure in a row, and one longer than the backoff's give-up took the actor down."""
        try:
            released = await asyncio.to_thread(self.release_leases, f"{self.identity}/", self.owner)
        except StorageUnavailable as error:
            _log.warning(
                "%s: cannot take back the %s of an earlier run (their leases expire): %s",
                self.loop_name,
                self.rows,
                error,
            )
            return
        if released:
            _log.info("%s: took back %d %s of an earlier run", self.loop_name, released, self.rows)

    def nudge(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Rounds until stopped, as the module docstring says."""
        self.owner = f"{self.identity}/{new_id()}"
        await self._take_back_earlier_leases()
        while not self._stopping:
            try:
                leased = await self.leased_round()
            except StorageUnavailable as error:
                _log.warning("%s: store unavailable, waiting: %s", self.loop_name, error)
                leased = 0
            else:
                if self._supervisor is not None:
                    self._supervisor.progress()
            if leased < self.batch_size and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                self._wake.clear()
