from __future__ import annotations

import asyncio

from mairust.model.queue import QueueState
from mairust.model.scope import Scope
from mairust.pipeline.dispatcher import QueueDispatcher, WorkerLost
from mairust.pipeline.runner import PipelineRunner

BODY = b"Subject: dispatch\r\n\r\nbody\r\n"


class ThreadPool:
    """The runner in a thread: what a pipeline worker actor does, without Ray."""

    def __init__(self, runner: PipelineRunner) -> None:
        self.runner = runner
        self.batches: list[int] = []

    async def process(self, items, owner):
        self.batches.append(len(items))
        return await asyncio.to_thread(self.runner.process, items, owner)


class LosingPool:
    def __init__(self) -> None:
        self.calls = 0

    async def process(self, items, owner):
        self.calls += 1
        raise WorkerLost("actor died")


async def wait_for(predicate, seconds=10.0):
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_dispatches_in_batches_until_the_queue_is_empty(stores, settings, spool_message):
    for _ in range(10):
        spool_message(BODY, "alice@example.test", "bob@example.test")
    settings.queue.batch_size = 4
    pool = ThreadPool(PipelineRunner(stores, settings.queue))
    dispatcher = QueueDispatcher(stores.metadata, pool, "d1", settings.queue, max_in_flight=2)
    task = asyncio.create_task(dispatcher.run())
    await wait_for(lambda: dispatcher.stats.delivered == 20)
    await dispatcher.stop()
    await task
    assert max(pool.batches) <= 4 and sum(pool.batches) == 20
    assert stores.metadata.queue_counts().get(QueueState.DONE) == 20
    assert len(stores.metadata.list_entries(Scope.admin(), limit=100)) == 20


async def test_nudge_wakes_the_dispatcher_before_the_poll_interval(stores, settings, spool_message):
    settings.queue.poll_interval = 30.0
    pool = ThreadPool(PipelineRunner(stores, settings.queue))
    dispatcher = QueueDispatcher(stores.metadata, pool, "d1", settings.queue, max_in_flight=1)
    task = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(0.2)  # asleep on an empty queue
    spool_message(BODY, "alice@example.test")
    dispatcher.nudge()
    await wait_for(lambda: dispatcher.stats.delivered == 1, seconds=5)
    await dispatcher.stop()
    await task


async def test_lost_worker_hands_rows_back_at_once(stores, settings, spool_message):
    spool_message(BODY, "alice@example.test")
    settings.queue.poll_interval = 0.3
    pool = LosingPool()
    dispatcher = QueueDispatcher(stores.metadata, pool, "d1", settings.queue, max_in_flight=1)
    task = asyncio.create_task(dispatcher.run())
    await wait_for(lambda: dispatcher.stats.lost_batches >= 1)
    await dispatcher.stop()
    await task
    rows = stores.metadata.list_queue()
    assert [r.state for r in rows] == [QueueState.QUEUED]
    assert "worker lost" in (rows[0].last_error or "")
    await asyncio.sleep(0.4)
    assert stores.metadata.lease_batch("other", 10, 60)  # due again, not stuck in a lease


class CountingLeases:
    """The metadata store, counting lease calls (what a spinning loop would multiply)."""

    def __init__(self, metadata) -> None:
        self._metadata = metadata
        self.leases = 0

    def lease_batch(self, owner, limit, lease_seconds):
        self.leases += 1
        return self._metadata.lease_batch(owner, limit, lease_seconds)

    def __getattr__(self, name):
        return getattr(self._metadata, name)


class GatedPool(ThreadPool):
    """Holds every batch until the test opens the gate."""

    def __init__(self, runner: PipelineRunner) -> None:
        super().__init__(runner)
        self.gate = asyncio.Event()

    async def process(self, items, owner):
        await self.gate.wait()
        return await super().process(items, owner)


async def test_nudges_to_a_busy_dispatcher_neither_lease_nor_spin(stores, settings, spool_message):
    for _ in range(10):
        spool_message(BODY, "alice@example.test")
    settings.queue.batch_size = 4
    settings.queue.poll_interval = 30.0
    metadata = CountingLeases(stores.metadata)
    pool = GatedPool(PipelineRunner(stores, settings.queue))
    dispatcher = QueueDispatcher(metadata, pool, "d1", settings.queue, max_in_flight=1)
    task = asyncio.create_task(dispatcher.run())
    await wait_for(lambda: metadata.leases == 1)
    turns = dispatcher.stats.loop_turns
    for _ in range(50):
        dispatcher.nudge()
        await asyncio.sleep(0.005)
    assert metadata.leases == 1, "the dispatcher leased while its only slot was busy"
    assert dispatcher.stats.loop_turns - turns <= 2, "the lease loop spun while it waited"
    pool.gate.set()
    await wait_for(lambda: dispatcher.stats.delivered == 10)
    await dispatcher.stop()
    await task
    assert pool.batches == [4, 4, 2]


async def test_rows_committed_while_a_batch_runs_go_out_together(stores, settings, spool_message):
    settings.queue.batch_size = 64
    settings.queue.poll_interval = 30.0
    pool = GatedPool(PipelineRunner(stores, settings.queue))
    dispatcher = QueueDispatcher(stores.metadata, pool, "d1", settings.queue, max_in_flight=4)
    task = asyncio.create_task(dispatcher.run())
    spool_message(BODY, "alice@example.test")
    dispatcher.nudge()
    await wait_for(lambda: dispatcher.stats.rows_leased == 1)
    for _ in range(5):  # five spool commits, each with its nudge, while the first batch runs
        spool_message(BODY, "alice@example.test")
        dispatcher.nudge()
        await asyncio.sleep(0.01)
    assert dispatcher.stats.rows_leased == 1
    pool.gate.set()
    await wait_for(lambda: dispatcher.stats.delivered == 6)
    await dispatcher.stop()
    await task
    assert pool.batches == [1, 5]
