"""Queue dispatcher actor (the lease manager): hosts the core's QueueDispatcher loop.

The lease loop runs under a Supervisor: an unexpected error is logged and the loop
restarts with backoff; a loop that keeps failing exits the actor, and Ray restarts it.
Each start is a new incarnation of the node's dispatcher identity, and hands back the
leases its earlier incarnations still hold (a batch still running in a worker may then
run twice; its effects are idempotent, and the old incarnation's acks are ignored).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

import ray

from actors.named import NamedActor
from actors.supervised import loop_report, start_supervised
from actors.worker_pool import RayWorkerPool
from mairust.config import Settings
from mairust.errors import StorageUnavailable
from mairust.log_format import configure_logging
from mairust.pipeline.dispatcher import (
    LEASE_LOOP,
    QueueDispatcher,
    dispatcher_identity,
    new_incarnation,
    owner_prefix,
)
from mairust.storage.factory import open_stores
from mairust.supervision import Backoff, Supervisor

_log = logging.getLogger(__name__)

# Restarts in place at 0.5, 1, 2 ... 30 s; after 8 failures in a row (about a minute and
# a half) the actor exits and comes back with fresh store connections.
LEASE_LOOP_BACKOFF = Backoff(give_up_after=8)


class DispatcherHost:
    """Leases batches for the whole node and feeds them to the pipeline workers."""

    # An async __init__ (run by Ray on the actor's loop, again after a restart) starts the loop.
    # The workers come by name, not handle: constructor arguments must stay small and
    # inline for a restart to rebuild the actor (handles would be kept by reference).
    async def __init__(self, settings: Settings, worker_names: list[str]) -> None:  # type: ignore[misc]
        configure_logging(settings.log_level, settings.log_format)
        self._stores = open_stores(settings.storage)
        workers = [NamedActor(name) for name in worker_names]
        identity = dispatcher_identity(settings.data_dir)
        # A fresh owner per incarnation: a restarted dispatcher never acks an old lease.
        self._owner = new_incarnation(identity)
        await self._release_earlier_leases(identity)
        self._supervisor = Supervisor(LEASE_LOOP, self._run_dispatcher, LEASE_LOOP_BACKOFF)
        self._dispatcher = QueueDispatcher(
            self._stores.metadata,
            RayWorkerPool(workers),
            self._owner,
            settings.queue,
            max_in_flight=settings.cluster.max_batches_in_flight * len(workers),
            instance=identity,
            on_progress=self._supervisor.progress,
        )
        self._loop_task = start_supervised(self._supervisor)
        _log.info("queue dispatcher %s running with %d workers", self._owner, len(workers))

    async def _release_earlier_leases(self, identity: str) -> None:
        try:
            released = await asyncio.to_thread(
                self._stores.metadata.release_leases, owner_prefix(identity), self._owner
            )
        except StorageUnavailable as exc:  # they expire instead; nothing is lost
            _log.warning("cannot hand back earlier leases of %s: %s", identity, exc)
            return
        if released:
            _log.info("handed back %d queue rows leased by an earlier %s", released, identity)

    async def _run_dispatcher(self) -> None:
        await self._dispatcher.run()

    async def nudge(self) -> None:
        self._dispatcher.nudge()

    async def stats(self) -> dict[str, int]:
        return {**asdict(self._dispatcher.stats), "loop_restarts": self._supervisor.restarts}

    async def lease_loop(self) -> dict[str, Any]:
        """The supervisor's view of the lease loop: restarts, last error, progress age."""
        return loop_report(self._supervisor.state)

    async def stop(self) -> None:
        self._supervisor.stop()
        await self._dispatcher.stop()
        await self._loop_task  # run() ends only once every batch it dispatched has settled
        self._stores.close()


DispatcherActor = ray.remote(num_cpus=0, max_restarts=-1)(DispatcherHost)
