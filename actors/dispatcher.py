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
from actors.pool_registry import registered_members
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
from mairust.pool_sizing import PIPELINE
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
    # The pool may have changed since the start: a restart asks the pool registry.
    async def __init__(self, settings: Settings, worker_names: list[str]) -> None:  # type: ignore[misc]
        configure_logging(settings.log_level, settings.log_format)
        self._stores = open_stores(settings.storage)
        self._batches_per_worker = settings.cluster.max_batches_in_flight
        self._worker_names = await registered_members(PIPELINE, worker_names)
        workers = [NamedActor(name) for name in self._worker_names]
        self._pool = RayWorkerPool(workers)
        identity = dispatcher_identity(settings.data_dir)
        # A fresh owner per incarnation: a restarted dispatcher never acks an old lease.
        self._owner = new_incarnation(identity)
        await self._release_earlier_leases(identity)
        self._supervisor = Supervisor(LEASE_LOOP, self._run_dispatcher, LEASE_LOOP_BACKOFF)
        self._dispatcher = QueueDispatcher(
            self._stores.metadata,
            self._pool,
            self._owner,
            settings.queue,
            max_in_flight=self._batches_per_worker * len(workers),
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

    async def set_workers(self, worker_names: list[str]) -> None:
        """The pipeline workers from now on (the pool scaler): new ones take batches at
        once; one left out gets no new batch (``retire_worker`` waits for its last)."""
        if worker_names == self._worker_names:
            return  # the scaler repeats the members at each look
        self._worker_names = list(worker_names)
        self._pool.set_workers([NamedActor(name) for name in worker_names])
        self._dispatcher.resize(self._batches_per_worker * self._pool.size)
        _log.info("pipeline workers now: %s", ", ".join(worker_names))

    async def retire_worker(self, worker_name: str, settle_seconds: float) -> bool:
        """Until the batches ``worker_name`` (left out already) still runs have settled;
        False if some still run after ``settle_seconds``."""
        return await self._pool.retire(worker_name, settle_seconds)

    async def rows_in_flight(self) -> int:
        """Queue rows in the batches the workers hold now (the pool scaler's load)."""
        return self._dispatcher.rows_in_flight

    async def stats(self) -> dict[str, int]:
        return {
            **asdict(self._dispatcher.stats),
            "rows_in_flight": self._dispatcher.rows_in_flight,
            "workers": self._pool.size,
            "loop_restarts": self._supervisor.restarts,
        }

    async def lease_loop(self) -> dict[str, Any]:
        """The supervisor's view of the lease loop: restarts, last error, progress age."""
        return loop_report(self._supervisor.state)

    async def stop(self) -> None:
        self._supervisor.stop()
        await self._dispatcher.stop()
        await self._loop_task  # run() ends only once every batch it dispatched has settled
        self._stores.close()


DispatcherActor = ray.remote(num_cpus=0, max_restarts=-1)(DispatcherHost)
