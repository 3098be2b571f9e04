"""The pool scaler of `mairust up` and `mairust cluster up`: every ``pool_scale_interval``
it publishes each pool to the registry, answers drain requests, and grows or shrinks each
pool as :class:`mairust.pool_sizing.PoolSizer` says.

It runs in the driver, on an event loop of its own thread, because the driver owns the
members: an actor that made them would take them down when it died. Its loop runs under
a :class:`~mairust.supervision.Supervisor` that never gives up: an error is logged with
its traceback and the loop starts again after a backoff; the members and their work are
not touched by it.

Growing: the new members are started (spread over the live nodes that are not being
drained, pinned there, ``cluster.pool_placement``), and only once they answer are they
published and announced to the pool's consumers. A member lost with its node (pinned, it
cannot restart elsewhere) or dead for Ray is replaced the same way, then retired.
Shrinking, one member: it is taken out of the registry and of its consumers' rotation
first, then left to finish what it holds (``WorkerPool.settle``), then killed. A drain of
a node: each member there is replaced by a new one elsewhere (new first), then retired
that same way; what moved is written back to the registry for the waiting `mairust
cluster drain`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ray

from cluster import ray_state
from cluster.pool_placement import live_node_ids, node_for_new_member, placement_options
from cluster.pools import WorkerPool
from mairust.config import Settings
from mairust.errors import StorageUnavailable
from mairust.pool_sizing import PoolLoad, PoolSizer
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from mairust.supervision import Backoff, Supervisor

_log = logging.getLogger(__name__)

SCALER_LOOP = "pool scaler"
# Never given up on: the pools keep their members while it waits to try again.
SCALER_BACKOFF = Backoff(give_up_after=None)
# A registry call that does not answer in this long is an error of this look.
REGISTRY_SECONDS = 10.0


class NoNodeLeft(RuntimeError):
    """No live node outside the drained ones can take a pool member."""


@dataclass(slots=True)
class Placement:
    """The live nodes and where each member runs now ("" while it is being placed)."""

    live: list[str]
    node_of: dict[str, str] = field(default_factory=dict)
    # Members Ray counts as dead (gone for good: pinned to a node that left, or killed).
    dead: set[str] = field(default_factory=set)

    def counts(self, names: Sequence[str]) -> Counter[str]:
        return Counter(self.node_of.get(name, "") for name in names)


class PoolScaler:
    """Sizes the pools and moves members off drained nodes, from the driver."""

    def __init__(
        self, settings: Settings, pools: Sequence[WorkerPool], registry: Any, *, spread: bool
    ) -> None:
        self._settings = settings
        self.pools = list(pools)
        self._registry = registry
        # Under `mairust cluster up` members are placed node by node; on one machine not.
        self._spread = spread
        self._sizers = {pool.name: PoolSizer(pool.rule) for pool in self.pools}
        self._loads: dict[str, PoolLoad | None] = {}
        self._excluded: set[str] = set()
        # Member -> the node it was last seen on: pinned there (hard node affinity), it
        # cannot come back while that node is gone, and is replaced (``_replace_lost``).
        self._last_node: dict[str, str] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.supervisor = Supervisor(SCALER_LOOP, self._looks, SCALER_BACKOFF)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=SCALER_LOOP, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """No more looks; a move in progress ends first (up to ``timeout`` seconds)."""
        self._stopping.set()
        if self._loop is not None:  # the supervisor's event belongs to the scaler's loop
            self._loop.call_soon_threadsafe(self.supervisor.stop)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                _log.warning("the pool scaler did not stop within %.0f s", timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._supervised())
        except Exception:  # the supervisor never gives up: this is a bug, said loudly
            _log.critical("the pool scaler ended: pools keep their size", exc_info=True)

    async def _supervised(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.supervisor.run()

    async def _looks(self) -> None:
        stores = open_stores(self._settings.storage)
        try:
            while not self._stopping.is_set():
                await self.look(stores)
                self.supervisor.progress()
                await self._pause(self._settings.cluster.pool_scale_interval)
        finally:
            stores.close()

    async def _pause(self, seconds: float) -> None:
        """Until the next look, or stop() (a threading event: stop() runs in another thread)."""
        await asyncio.to_thread(self._stopping.wait, seconds)

    async def look(self, stores: Stores) -> None:
        """One look: where members run, drains, sizes; each pool published."""
        where = await self._placement()
        await self._replace_lost(where)
        await self._answer_drains(where)
        for pool in self.pools:
            if self._stopping.is_set():
                return
            await self._resize(pool, stores, where)
            # Repeated at each look: a consumer that missed a change (restarting, or a
            # front-end started since with the start-up list) has it within one interval.
            await pool.announce()
        await self._publish_all(where)

    async def _placement(self) -> Placement:
        def read() -> Placement:
            where = Placement(live=live_node_ids(ray.nodes()))  # type: ignore[no-untyped-call]
            ids = {
                ray_state.actor_id_of(handle): name
                for pool in self.pools
                for name, handle in pool.members.items()
            }
            for actor in ray_state.actors():
                if actor.actor_id not in ids:
                    continue
                if actor.state == "DEAD":
                    where.dead.add(ids[actor.actor_id])
                else:
                    where.node_of[ids[actor.actor_id]] = actor.node_id
            return where

        return await asyncio.to_thread(read)

    async def _resize(self, pool: WorkerPool, stores: Stores, where: Placement) -> None:
        current = len(pool.members)
        bounds = pool.rule.bounds
        if bounds.fixed and current == bounds.minimum:
            self._loads[pool.name] = None  # a fixed pool: its load decides nothing
            return
        try:
            load = await pool.load(stores)
        except (ray.exceptions.RayError, TimeoutError, StorageUnavailable) as exc:
            # A consumer restarting or the store down: no decision this look.
            _log.warning("pool %s: its load could not be read: %r", pool.name, exc)
            return
        self._loads[pool.name] = load
        wanted = self._sizers[pool.name].decide(load, current, time.monotonic())
        if wanted > current:
            _log.info("pool %s grows %d -> %d (load %s)", pool.name, current, wanted, load)
            await self._grow(pool, wanted - current, where)
        elif wanted < current:
            _log.info("pool %s shrinks %d -> %d (load %s)", pool.name, current, wanted, load)
            for name in self._leavers(pool, current - wanted, where):
                await self._retire(pool, name, where)

    def _leavers(self, pool: WorkerPool, count: int, where: Placement) -> list[str]:
        """Members on drained nodes first, then the newest (a delivery worker's index 0,
        the one the front-ends nudge, goes last)."""
        names = list(pool.members)
        order = sorted(
            names,
            key=lambda name: (where.node_of.get(name) not in self._excluded, -names.index(name)),
        )
        return order[:count]

    async def _grow(self, pool: WorkerPool, count: int, where: Placement) -> list[str]:
        """``count`` new members, published and announced once they answer; their names."""
        started: dict[str, Any] = {}
        for _ in range(count):
            node = self._node_for(pool, [*pool.members, *started], where)
            name, handle = pool.spawn(placement_options(node))
            started[name] = handle
            where.node_of[name] = node or ""
        try:
            await asyncio.wait_for(
                asyncio.gather(*(handle.__ray_ready__.remote() for handle in started.values())),
                timeout=self._settings.cluster.start_timeout,
            )
        except BaseException:
            for handle in started.values():  # half-started members are not left behind
                ray.kill(handle, no_restart=True)
            raise
        pool.members.update(started)
        await self._publish(pool, where)
        await pool.announce()
        for name in started:
            _log.info("pool %s: %s joined on node %s", pool.name, name, where.node_of[name][:12])
        return list(started)

    def _node_for(self, pool: WorkerPool, names: list[str], where: Placement) -> str | None:
        if not self._spread:
            return None
        every = [name for each in self.pools for name in each.members]
        node = node_for_new_member(
            where.live, where.counts(names), where.counts(every), frozenset(self._excluded)
        )
        if node is None:
            raise NoNodeLeft(f"no live node outside the drained ones for a {pool.name} member")
        return node

    async def _retire(self, pool: WorkerPool, name: str, where: Placement) -> None:
        """Out of the registry and the consumers' rotation, finish, then killed."""
        handle = pool.members.pop(name)
        settled = False
        try:
            await self._publish(pool, where)
            await pool.announce()
            settled = await pool.settle(name, handle)
        except Exception as exc:  # still killed: what it held comes back by lease expiry
            _log.warning("pool %s: %s did not leave gracefully: %r", pool.name, name, exc)
        finally:
            ray.kill(handle, no_restart=True)
            where.node_of.pop(name, None)
        _log.info(
            "pool %s: %s left%s", pool.name, name, "" if settled else " (work cut, leases expire)"
        )

    async def _replace_lost(self, where: Placement) -> None:
        """Each member that Ray counts dead, or whose node left the cluster, is replaced by a
        new one on a live node (the new one first), then retired (out of its consumers'
        rotation; what it held comes back through lease expiry)."""
        for name, node in where.node_of.items():
            if node:
                self._last_node[name] = node
        live = set(where.live)
        for pool in self.pools:
            lost = [
                name
                for name in pool.members
                if name in where.dead or self._last_node.get(name, "") not in {"", *live}
            ]
            for name in lost:
                gone = self._last_node.pop(name, "")
                [replacement] = await self._grow(pool, 1, where)
                await self._retire(pool, name, where)
                _log.warning(
                    "pool %s: %s was lost (node %s); replaced by %s on node %s",
                    pool.name, name, gone[:12] or "unknown", replacement,
                    where.node_of.get(replacement, "")[:12],
                )  # fmt: skip

    async def _answer_drains(self, where: Placement) -> None:
        requests: list[str] = await self._ask(self._registry.drain_requests.remote())
        for node in requests:
            self._excluded.add(node)
            moves: list[dict[str, str]] = []
            error = None
            try:
                await self._move_off(node, where, moves)
            except Exception as exc:  # said to the drain command, which fails with it
                _log.exception("moving the pools off node %s", node[:12])
                error = f"{type(exc).__name__}: {exc}"
            await self._ask(self._registry.drain_finished.remote(node, moves, error))

    async def _move_off(self, node: str, where: Placement, moves: list[dict[str, str]]) -> None:
        for pool in self.pools:
            for name in [n for n in pool.members if where.node_of.get(n) == node]:
                [replacement] = await self._grow(pool, 1, where)
                await self._retire(pool, name, where)
                moves.append(
                    {
                        "pool": pool.name,
                        "left": name,
                        "joined": replacement,
                        "node": where.node_of.get(replacement, ""),
                    }
                )
                _log.info("pool %s: %s replaced by %s (node drained)", pool.name, name, replacement)

    async def _publish_all(self, where: Placement) -> None:
        for pool in self.pools:
            await self._publish(pool, where)

    async def _publish(self, pool: WorkerPool, where: Placement) -> None:
        load = self._loads.get(pool.name)
        report = {
            "members": {name: where.node_of.get(name, "") for name in pool.members},
            "minimum": pool.rule.bounds.minimum,
            "maximum": pool.rule.bounds.maximum,
            "per_member": pool.rule.per_member,
            "load": None
            if load is None
            else {"waiting": load.waiting, "in_flight": load.in_flight},
            "excluded_nodes": sorted(self._excluded),
        }
        await self._ask(self._registry.publish.remote(pool.name, report))

    async def _ask(self, ref: Any) -> Any:
        return await asyncio.wait_for(ref, timeout=REGISTRY_SECONDS)
