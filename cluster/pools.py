"""The three worker pools as the driver's pool scaler handles them: how a member is made,
how the pool's consumers learn the members, what load the pool carries, and how a member
leaves without losing or doubling work.

- pipeline workers: the dispatcher is told the members (``set_workers``); a leaving
  worker gets no new batch and is killed once its batches in flight have settled
  (``retire_worker``); load = due queue rows + rows in the batches in flight.
- auth checkers: every front-end is told the members (``set_auth_checkers``); a leaving
  checker is killed once no call runs in it; load = requests waiting or in a call at the
  front-ends.
- delivery workers: each leases from the outbound table on its own (no partition; the
  store's leases keep them apart), so nobody needs telling; a leaving one stops leasing,
  lets its sessions end and settle (``retire``); load = due outbound rows + rows held.

The members belong to the driver (a non-detached actor dies with its owner): this runs in
`mairust up` / `mairust cluster up`, never in an actor.
"""

from __future__ import annotations

import asyncio
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ray

from actors.auth_checker import AuthCheckerActor
from actors.delivery import DELIVERY_ACTOR, DeliveryActor
from actors.pipeline_worker import PipelineWorkerActor
from mairust.config import Settings
from mairust.pool_sizing import AUTH, DELIVERY, PIPELINE, PoolLoad, SizingRule
from mairust.storage.stores import Stores

_log = logging.getLogger(__name__)

# How long a leaving member's work may take to settle before it is killed anyway (its
# rows then come back through lease expiry; effects are idempotent).
SETTLE_SECONDS = 120.0
# Seconds between looks whether a leaving auth checker still runs a call.
CHECKER_IDLE_POLL = 0.2
# A call to a member or a consumer that does not answer in this long counts as not answered.
CALL_SECONDS = 10.0


class WorkerPool(ABC):
    """One pool's members (name -> the driver's handle), in the order they were made."""

    name: str
    prefix: str

    def __init__(self, settings: Settings, rule: SizingRule) -> None:
        self.settings = settings
        self.rule = rule
        self.members: dict[str, Any] = {}
        self._next_index = 0

    def adopt(self, members: dict[str, Any]) -> None:
        """Members made at start-up (``EmbeddedCluster``)."""
        self.members.update(members)
        for name in members:
            self._next_index = max(self._next_index, self._index_of(name) + 1)

    def spawn(self, options: dict[str, Any]) -> tuple[str, Any]:
        """A new member (not yet a member: :meth:`join` makes it one once it answers)."""
        name = f"{self.prefix}{self._next_index}"
        self._next_index += 1
        return name, self.create(name, options)

    def _index_of(self, name: str) -> int:
        match = re.search(r"(\d+)$", name)
        return int(match.group(1)) if match else -1

    @abstractmethod
    def create(self, name: str, options: dict[str, Any]) -> Any: ...

    @abstractmethod
    async def load(self, stores: Stores) -> PoolLoad: ...

    @abstractmethod
    async def announce(self) -> None:
        """Tell the pool's consumers the members."""

    @abstractmethod
    async def settle(self, name: str, handle: Any) -> bool:
        """The member ``name``, no longer announced, finishes what it holds; False if
        something was still running when the wait ended."""


class PipelinePool(WorkerPool):
    name = PIPELINE
    prefix = "pipeline-worker-"

    def __init__(self, settings: Settings, rule: SizingRule, dispatcher: Any) -> None:
        super().__init__(settings, rule)
        self._dispatcher = dispatcher

    def create(self, name: str, options: dict[str, Any]) -> Any:
        return PipelineWorkerActor.options(name=name, **options).remote(self.settings)

    async def load(self, stores: Stores) -> PoolLoad:
        due = await asyncio.to_thread(stores.metadata.due_queue_rows, datetime.now(UTC))
        held: int = await asyncio.wait_for(
            self._dispatcher.rows_in_flight.remote(), timeout=CALL_SECONDS
        )
        return PoolLoad(waiting=due, in_flight=held)

    async def announce(self) -> None:
        try:
            await asyncio.wait_for(
                self._dispatcher.set_workers.remote(list(self.members)), timeout=CALL_SECONDS
            )
        except (ray.exceptions.RayError, TimeoutError) as exc:
            # Restarting: it asks the registry (already up to date) when it is back.
            _log.warning("pool %s: the dispatcher did not take the members: %r", self.name, exc)

    async def settle(self, name: str, handle: Any) -> bool:
        settled: bool = await asyncio.wait_for(
            self._dispatcher.retire_worker.remote(name, SETTLE_SECONDS),
            timeout=SETTLE_SECONDS + CALL_SECONDS,
        )
        return settled


class AuthCheckerPool(WorkerPool):
    name = AUTH
    prefix = "auth-checker-"

    def __init__(
        self, settings: Settings, rule: SizingRule, frontends: Callable[[], list[Any]]
    ) -> None:
        super().__init__(settings, rule)
        self._frontends = frontends

    def create(self, name: str, options: dict[str, Any]) -> Any:
        return AuthCheckerActor.options(name=name, **options).remote(self.settings)

    async def load(self, stores: Stores) -> PoolLoad:
        answers = await self._ask_frontends(lambda frontend: frontend.auth_load.remote())
        return PoolLoad(waiting=0, in_flight=sum(answers))

    async def announce(self) -> None:
        names = list(self.members)
        await self._ask_frontends(lambda frontend: frontend.set_auth_checkers.remote(names))

    async def _ask_frontends(self, call: Callable[[Any], Any]) -> list[Any]:
        """Every front-end's answer; one that does not answer (drained node gone,
        restarting: it reads the registry when it is back) is left out."""
        refs = [call(frontend) for frontend in self._frontends()]
        if not refs:
            return []
        ready, late = await asyncio.to_thread(
            ray.wait, refs, num_returns=len(refs), timeout=CALL_SECONDS
        )
        answers = []
        for ref in ready:
            try:
                answers.append(await ref)
            except ray.exceptions.RayError as exc:
                _log.info("pool %s: a front-end did not answer: %s", self.name, exc)
        if late:
            _log.info("pool %s: %d front-ends did not answer in time", self.name, len(late))
        return answers

    async def settle(self, name: str, handle: Any) -> bool:
        # Batches formed before the announcement are sent within an event-loop turn; give
        # them a moment to reach the checker, then wait until it runs none.
        await asyncio.sleep(1.0)
        deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
        quiet_looks = 0
        while quiet_looks < 2:
            if asyncio.get_running_loop().time() > deadline:
                return False
            running: int = await asyncio.wait_for(
                handle.calls_in_progress.remote(), timeout=CALL_SECONDS
            )
            quiet_looks = quiet_looks + 1 if running == 0 else 0
            await asyncio.sleep(CHECKER_IDLE_POLL)
        return True


class DeliveryPool(WorkerPool):
    name = DELIVERY
    prefix = f"{DELIVERY_ACTOR}-"

    def create(self, name: str, options: dict[str, Any]) -> Any:
        # The index is the loop's identity on its node (its leases' owner prefix).
        return DeliveryActor.options(name=name, **options).remote(
            self.settings, self._index_of(name)
        )

    async def announce(self) -> None:
        """Nobody to tell: each loop leases on its own, the store's leases keep them apart."""

    async def load(self, stores: Stores) -> PoolLoad:
        due = await asyncio.to_thread(stores.metadata.due_outbound_rows, datetime.now(UTC))
        refs = [member.rows_in_flight.remote() for member in self.members.values()]
        if not refs:
            return PoolLoad(waiting=due, in_flight=0)
        ready, _ = await asyncio.to_thread(
            ray.wait, refs, num_returns=len(refs), timeout=CALL_SECONDS
        )
        held = 0
        for ref in ready:
            try:
                held += await ref
            except ray.exceptions.RayError:
                continue  # a restarting loop holds nothing until it leases again
        return PoolLoad(waiting=due, in_flight=held)

    async def settle(self, name: str, handle: Any) -> bool:
        settled: bool = await asyncio.wait_for(
            handle.retire.remote(SETTLE_SECONDS), timeout=SETTLE_SECONDS + CALL_SECONDS
        )
        return settled
