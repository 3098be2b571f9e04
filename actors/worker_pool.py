"""The core's WorkerPool over pipeline worker actors: least-busy dispatch, Ray errors mapped.

A worker whose call failed sits out for a few seconds (``cooldown_seconds``) while others
can take the work: a restarting actor gets time to come back, and a dead one stops
drawing every other batch into a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ray.exceptions import RayActorError, RayTaskError

from actors.named import NamedActor
from mairust.model.queue import QueueItem
from mairust.pipeline.dispatcher import WorkerLost
from mairust.pipeline.runner import BatchReport


class RayWorkerPool:
    """Sends each batch to the healthy worker with the fewest batches in flight."""

    def __init__(
        self,
        workers: Sequence[Any],
        *,
        cooldown_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not workers:
            raise ValueError("a worker pool needs at least one worker")
        self._workers = list(workers)
        self._busy = [0] * len(self._workers)
        self._resting_until = [0.0] * len(self._workers)
        self._cooldown = cooldown_seconds
        self._clock = clock

    def _choose(self) -> int:
        now = self._clock()
        candidates = [i for i, until in enumerate(self._resting_until) if until <= now]
        # Every worker failed recently: try the one that has rested longest.
        if not candidates:
            return min(range(len(self._workers)), key=self._resting_until.__getitem__)
        return min(candidates, key=self._busy.__getitem__)

    async def process(self, items: Sequence[QueueItem], owner: str) -> BatchReport:
        index = self._choose()
        self._busy[index] += 1
        try:
            report: BatchReport = await self._workers[index].process.remote(list(items), owner)
        # ValueError: a worker reached by name (NamedActor) that Ray no longer knows.
        except (RayActorError, RayTaskError, ValueError) as exc:
            self._resting_until[index] = self._clock() + self._cooldown
            if isinstance(self._workers[index], NamedActor):
                # Ray restarts a crashed actor behind the same handle, but one killed and
                # made again under its name (`mairust cluster up` re-placing it) has a new one.
                self._workers[index].forget()
            raise WorkerLost(f"pipeline worker {index}: {type(exc).__name__}") from exc
        finally:
            self._busy[index] -= 1
        return report
