"""The core's WorkerPool over pipeline worker actors: least-busy dispatch, Ray errors mapped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ray.exceptions import RayActorError, RayTaskError

from mairust.model.queue import QueueItem
from mairust.pipeline.dispatcher import WorkerLost
from mairust.pipeline.runner import BatchReport


class RayWorkerPool:
    """Sends each batch to the worker with the fewest batches in flight."""

    def __init__(self, workers: Sequence[Any]) -> None:
        if not workers:
            raise ValueError("a worker pool needs at least one worker")
        self._workers = list(workers)
        self._busy = [0] * len(self._workers)

    async def process(self, items: Sequence[QueueItem], owner: str) -> BatchReport:
        index = min(range(len(self._workers)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            report: BatchReport = await self._workers[index].process.remote(list(items), owner)
        except (RayActorError, RayTaskError) as exc:
            raise WorkerLost(f"pipeline worker {index}: {type(exc).__name__}") from exc
        finally:
            self._busy[index] -= 1
        return report
