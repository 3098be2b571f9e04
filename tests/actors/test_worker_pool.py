"""RayWorkerPool: least-busy dispatch over real pipeline worker actors, Ray errors as WorkerLost."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import asyncio
import time
from typing import Any

import pytest
import ray

from actors.pipeline_worker import PipelineWorkerActor
from actors.worker_pool import RayWorkerPool, key_of
from mairust.model.queue import QueueState
from mairust.pipeline.dispatcher import WorkerLost


class _RecordedMethod:
    def __init__(self, handle: Any, name: str, calls: list[str]) -> None:
        self._handle = handle
        self._name = name
        self._calls = calls

    def remote(self, *args: Any) -> Any:
        self._calls.append(self._name)
        return self._handle.process.remote(*args)


class RecordedWorker:
    """A real actor handle whose ``process.remote`` calls are logged by worker name."""

    def __init__(self, handle: Any, name: str, calls: list[str]) -> None:
        self.process = _RecordedMethod(handle, name, calls)


@pytest.fixture(scope="module")
def workers(module_spawn, module_world):
    handles = [module_spawn(PipelineWorkerActor, module_world.settings) for _ in range(2)]
    ray.get([handle.ping.remote() for handle in handles], timeout=60)
    return handles


def lease_one_row_per_message(world, body, count: int):
    """``count`` messages to one new mailbox each, leased; one single-row batch per message."""
    refs = [world.spool(body(f"word{n}"), world.mailbox()) for n in range(count)]
    items = world.stores.metadata.lease_batch("pool-owner", 100, 60)
    assert sorted(item.message.id for item in items) == sorted(ref.id for ref in refs)
    return refs, [[item] for item in items]


async def test_concurrent_batches_go_to_the_least_busy_worker(workers, module_world, body):
    calls: list[str] = []
    pool = RayWorkerPool([RecordedWorker(h, f"w{n}", calls) for n, h in enumerate(workers)])
    refs, batches = lease_one_row_per_message(module_world, body, 3)

    reports = await asyncio.gather(*(pool.process(batch, "pool-owner") for batch in batches))

    # Both idle: w0; w0 busy: w1; both busy with one batch each: the first of them, w0.
    assert calls == ["w0", "w1", "w0"]
    assert [report.delivered for report in reports] == [1, 1, 1]
    for ref in refs:
        assert len(module_world.entries(ref.id)) == 1
        assert {row.state for row in module_world.rows(ref.id)} == {QueueState.DONE}


async def test_a_finished_batch_frees_its_worker(workers, module_world, body):
    calls: list[str] = []
    pool = RayWorkerPool([RecordedWorker(h, f"w{n}", calls) for n, h in enumerate(workers)])
    _refs, batches = lease_one_row_per_message(module_world, body, 2)

    for batch in batches:  # one after the other: nothing is in flight at each call
        report = await pool.process(batch, "pool-owner")
        assert report.delivered == 1

    assert calls == ["w0", "w0"]


async def test_killed_worker_surfaces_as_worker_lost(spawn, module_world, body):
    doomed = spawn(PipelineWorkerActor, module_world.settings)
    ray.get(doomed.ping.remote(), timeout=60)
    ray.kill(doomed, no_restart=True)
    pool = RayWorkerPool([doomed])
    [ref], [batch] = lease_one_row_per_message(module_world, body, 1)

    with pytest.raises(WorkerLost, match="pipeline worker 0") as lost:
        await pool.process(batch, "pool-owner")

    assert isinstance(lost.value.__cause__, ray.exceptions.RayActorError)
    # Nothing was settled: the row stays leased, for the dispatcher to hand back.
    assert [row.state for row in module_world.rows(ref.id)] == [QueueState.LEASED]
    assert module_world.entries(ref.id) == []


def test_a_pool_needs_a_worker():
    with pytest.raises(ValueError, match="at least one worker"):
        RayWorkerPool([])


class _Worker:
    """Stands in for an actor handle: ``process.remote`` answers or raises like Ray would."""

    def __init__(self, name: str, failing: bool = False) -> None:
        self.name = name
        self.failing = failing
        self.calls = 0
        self.process = self

    def remote(self, items: list[Any], owner: str) -> Any:
        self.calls += 1

        async def answer() -> Any:
            if self.failing:
                raise ray.exceptions.RayActorError()
            return self.name

        return answer()


def test_a_failed_worker_rests_while_others_take_the_work():
    now = [100.0]
    dead, alive = _Worker("dead", failing=True), _Worker("alive")
    pool = RayWorkerPool([dead, alive], cooldown_seconds=5.0, clock=lambda: now[0])

    async def run() -> list[Any]:
        outcomes: list[Any] = []
        for _ in range(4):
            try:
                outcomes.append(await pool.process([], "owner"))
            except WorkerLost:
                outcomes.append("lost")
        return outcomes

    assert asyncio.run(run()) == ["lost", "alive", "alive", "alive"]
    assert dead.calls == 1
    now[0] += 6  # rested: it is tried again
    assert asyncio.run(run())[0] == "lost"
    assert dead.calls == 2


async def test_a_worker_ray_no_longer_knows_by_name_is_lost_and_rests(spawn):
    from actors.named import NamedActor

    gone = NamedActor("pipeline-worker-that-never-was")
    clock = [100.0]
    pool = RayWorkerPool([gone], cooldown_seconds=5.0, clock=lambda: clock[0])
    with pytest.raises(WorkerLost, match="ValueError"):
        await pool.process([], "owner")
    assert pool._members[key_of(gone)].resting_until == 105.0


class _HeldWorker:
    """Stands in for an actor handle whose batches finish when the test says so."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self.release = asyncio.Event()
        self.process = self

    def remote(self, items: list[Any], owner: str) -> Any:
        self.calls += 1

        async def answer() -> Any:
            await self.release.wait()
            return self.name

        return answer()


def test_a_left_out_worker_gets_no_new_batch_and_retires_once_its_batch_settled():
    old, new = _HeldWorker("old"), _HeldWorker("new")
    new.release.set()
    pool = RayWorkerPool([old])

    async def run() -> list[Any]:
        running = asyncio.ensure_future(pool.process([], "owner"))
        await asyncio.sleep(0)
        assert old.calls == 1
        pool.set_workers([new])
        assert pool.size == 1
        retiring = asyncio.ensure_future(pool.retire(key_of(old), settle_seconds=30))
        # The old worker's batch still runs: it has not retired; new batches go to the new.
        answer: Any = await pool.process([], "owner")
        assert answer == "new"
        assert not retiring.done() and old.calls == 1
        old.release.set()
        return [await running, await retiring]

    assert asyncio.run(run()) == ["old", True]
    with pytest.raises(ValueError, match="still a member"):
        asyncio.run(pool.retire(key_of(new), settle_seconds=1))


def test_retire_says_when_a_batch_outlives_the_wait():
    ticks = iter(range(1_000_000))  # the clock moves a second at every look
    held, other = _HeldWorker("held"), _HeldWorker("other")
    pool = RayWorkerPool([held], clock=lambda: float(next(ticks)))

    async def run() -> bool:
        running = asyncio.ensure_future(pool.process([], "owner"))
        await asyncio.sleep(0)
        pool.set_workers([other])
        settled = await pool.retire(key_of(held), settle_seconds=5)
        held.release.set()
        await running
        return settled

    assert asyncio.run(run()) is False


async def test_a_worker_made_again_under_its_name_is_reached_after_one_loss(spawn, module_world):
    from actors.named import NamedActor

    first = spawn(PipelineWorkerActor, module_world.settings, name="pool-test-remade")
    ray.get(first.ping.remote(), timeout=60)
    clock = [100.0]
    pool = RayWorkerPool([NamedActor("pool-test-remade")], clock=lambda: clock[0])
    assert (await pool.process([], "owner")).delivered == 0

    ray.kill(first, no_restart=True)
    _wait_until_the_name_is_free("pool-test-remade")
    second = spawn(PipelineWorkerActor, module_world.settings, name="pool-test-remade")
    ray.get(second.ping.remote(), timeout=60)

    # The cached handle is the dead actor's: one loss, then the name is looked up again.
    with pytest.raises(WorkerLost):
        await pool.process([], "owner")
    clock[0] += 10
    assert (await pool.process([], "owner")).delivered == 0


def _wait_until_the_name_is_free(name: str) -> None:
    for _ in range(100):
        try:
            ray.get_actor(name)
        except ValueError:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} still registered 10 s after it was killed")
