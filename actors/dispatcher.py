"""Queue dispatcher actor (the lease manager): hosts the core's QueueDispatcher loop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

import ray

from actors.worker_pool import RayWorkerPool
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.pipeline.dispatcher import QueueDispatcher
from mairust.storage.factory import open_stores

_log = logging.getLogger(__name__)


class DispatcherHost:
    """Leases batches for the whole node and feeds them to the pipeline workers."""

    # An async __init__ (run by Ray on the actor's loop, again after a restart) starts the loop.
    async def __init__(self, settings: Settings, workers: list[Any]) -> None:  # type: ignore[misc]
        logging.basicConfig(level=settings.log_level)
        self._stores = open_stores(settings.storage)
        # A fresh owner per incarnation: a restarted dispatcher never acks an old lease.
        self._owner = f"dispatcher-{new_id()}"
        self._dispatcher = QueueDispatcher(
            self._stores.metadata,
            RayWorkerPool(workers),
            self._owner,
            settings.queue,
            max_in_flight=settings.cluster.max_batches_in_flight * len(workers),
        )
        self._loop_task = asyncio.get_running_loop().create_task(self._dispatcher.run())
        _log.info("queue dispatcher %s running with %d workers", self._owner, len(workers))

    async def nudge(self) -> None:
        self._dispatcher.nudge()

    async def stats(self) -> dict[str, int]:
        return asdict(self._dispatcher.stats)

    async def stop(self) -> None:
        await self._dispatcher.stop()
        await self._loop_task  # run() ends only once every batch it dispatched has settled
        self._stores.close()


DispatcherActor = ray.remote(num_cpus=0, max_restarts=-1)(DispatcherHost)
