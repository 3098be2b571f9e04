"""Indexer actor: drains the durable search backlog while the search role is reachable."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import ray

from mairust.config import Settings
from mairust.errors import MairustError
from mairust.search.indexing import drain_search_backlog
from mairust.storage.factory import open_stores

_log = logging.getLogger(__name__)


class IndexerHost:
    """Every ``cluster.search_backlog_interval`` seconds, index what the backlog holds."""

    # Ray runs an async __init__ on the actor's loop (again after a restart).
    async def __init__(self, settings: Settings) -> None:  # type: ignore[misc]
        logging.basicConfig(level=settings.log_level)
        self._stores = open_stores(settings.storage)
        self._interval = settings.cluster.search_backlog_interval
        self.indexed = 0
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                done = await asyncio.to_thread(drain_search_backlog, self._stores)
            except MairustError as error:  # search or metadata still down: next round
                _log.info("search backlog waits: %s", error)
                done = 0
            if done:
                self.indexed += done
                _log.info("indexed %d entries from the search backlog", done)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def drain_now(self) -> None:
        """Wake the loop (tests, and operators after an outage)."""
        self._wake.set()

    async def stats(self) -> dict[str, int]:
        backlog = await asyncio.to_thread(self._stores.metadata.search_backlog_size)
        return {"indexed": self.indexed, "backlog": backlog}

    async def stop(self) -> None:
        self._task.cancel()
        self._stores.close()


IndexerActor = ray.remote(num_cpus=0, max_restarts=-1)(IndexerHost)
