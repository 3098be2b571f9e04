"""The core's WorkerPool over pipeline worker actors: least-busy dispatch, Ray errors mapped,
members that come and go while it runs.

A worker whose call failed sits out for a few seconds (``cooldown_seconds``) while others
can take the work: a restarting actor gets time to come back, and a dead one stops
drawing every other batch into a failure.

Membership changes (the pool scaler, ``cluster/pool_scaler.py``): :meth:`set_workers`
names the members from now on; a member left out gets no new batch, and :meth:`retire`
waits until the batches it still runs have settled, so the scaler kills it only then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ray.exceptions import RayActorError, RayTaskError

from actors.named import NamedActor
from mairust.model.queue import QueueItem
from mairust.pipeline.dispatcher import WorkerLost
from mairust.pipeline.runner import BatchReport

# How often retire() looks whether a leaving member's batches have settled.
RETIRE_POLL_SECONDS = 0.05


@dataclass(slots=True)
class _Member:
    label: str  # the worker's name, or its number in the order the pool met it
    worker: Any
    busy: int = 0
    resting_until: float = 0.0
    leaving: bool = False


class RayWorkerPool:
    """Sends each batch to the healthy member with the fewest batches in flight."""

    def __init__(
        self,
        workers: Sequence[Any],
        *,
        cooldown_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._members: dict[str, _Member] = {}
        self._met = 0
        self._cooldown = cooldown_seconds
        self._clock = clock
        self.set_workers(workers)

    @property
    def size(self) -> int:
        """Members in the rotation (leaving ones not counted)."""
        return sum(1 for member in self._members.values() if not member.leaving)

    def set_workers(self, workers: Sequence[Any]) -> None:
        """The members from now on, in rotation order. A named worker (``NamedActor``) is
        known by its name, another by identity. New ones get batches at once; one left
        out gets no new batch and leaves once its batches in flight have settled."""
        if not workers:
            raise ValueError("a worker pool needs at least one worker")
        wanted = {key_of(worker): worker for worker in workers}
        for key, member in self._members.items():
            member.leaving = key not in wanted
        for key, worker in wanted.items():
            if key not in self._members:
                label = worker.name if isinstance(worker, NamedActor) else str(self._met)
                self._members[key] = _Member(label, worker)
                self._met += 1
        # Rotation order follows the new list; leaving members keep their place at the end.
        self._members = {
            **{key: self._members[key] for key in wanted},
            **{k: m for k, m in self._members.items() if m.leaving},
        }
        self._forget_idle_leavers()

    async def retire(self, key: str, settle_seconds: float) -> bool:
        """Wait until member ``key`` (:func:`key_of`; already left out by :meth:`set_workers`)
        has no batch in flight; False if it still has one after ``settle_seconds``."""
        member = self._members.get(key)
        if member is not None and not member.leaving:
            raise ValueError(f"pipeline worker {key} is still a member: leave it out first")
        deadline = self._clock() + settle_seconds
        while key in self._members:
            if self._clock() >= deadline:
                return False
            await asyncio.sleep(RETIRE_POLL_SECONDS)
        return True

    def _choose(self) -> _Member:
        now = self._clock()
        members = [member for member in self._members.values() if not member.leaving]
        candidates = [member for member in members if member.resting_until <= now]
        # Every worker failed recently: try the one that has rested longest.
        if not candidates:
            return min(members, key=lambda member: member.resting_until)
        return min(candidates, key=lambda member: member.busy)

    async def process(self, items: Sequence[QueueItem], owner: str) -> BatchReport:
        member = self._choose()
        member.busy += 1
        try:
            report: BatchReport = await member.worker.process.remote(list(items), owner)
        # ValueError: a worker reached by name (NamedActor) that Ray no longer knows.
        except (RayActorError, RayTaskError, ValueError) as exc:
            member.resting_until = self._clock() + self._cooldown
            if isinstance(member.worker, NamedActor):
                # Ray restarts a crashed actor behind the same handle, but one killed and
                # made again under its name (`mairust cluster up` re-placing it) has a new one.
                member.worker.forget()
            raise WorkerLost(f"pipeline worker {member.label}: {type(exc).__name__}") from exc
        finally:
            member.busy -= 1
            self._forget_idle_leavers()
        return report

    def _forget_idle_leavers(self) -> None:
        for key in [k for k, m in self._members.items() if m.leaving and m.busy == 0]:
            del self._members[key]


def key_of(worker: Any) -> str:
    """How the pool knows a worker: a named one by its name, another by identity."""
    return str(worker.name) if isinstance(worker, NamedActor) else f"object:{id(worker)}"
