"""The lease loop over real embedded stores, with pools (and a store wrapper) as fakes."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from mairust.model.queue import QueueState
from mairust.model.scope import PLATFORM
from mairust.pipeline.dispatcher import (
    LEASE_LOOP,
    QueueDispatcher,
    WorkerLost,
    dispatcher_identity,
    lease_loop_stall,
    new_incarnation,
    owner_prefix,
)
from mairust.pipeline.runner import PipelineRunner
from mairust.supervision import Backoff, LoopGaveUp, Supervisor

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
    assert len(stores.metadata.list_entries(PLATFORM, limit=100)) == 20


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


# -- supervision, idling, heartbeats and stalls ---------------------------------------


class CountingStore:
    """The real store, counting lease and heartbeat calls; the first ``failures`` lease
    calls raise ``error`` (a bug, not an outage: not StorageUnavailable)."""

    def __init__(self, store, failures=0):
        self._store = store
        self.failures = failures
        self.error = RuntimeError("lease bug")
        self.lease_calls = 0
        self.heartbeats = 0

    def lease_batch(self, owner, limit, lease_seconds):
        self.lease_calls += 1
        if self.failures:
            self.failures -= 1
            raise self.error
        return self._store.lease_batch(owner, limit, lease_seconds)

    def record_heartbeat(self, loop, instance, at):
        self.heartbeats += 1
        self._store.record_heartbeat(loop, instance, at)

    def __getattr__(self, name):
        return getattr(self._store, name)


class GatedPool(ThreadPool):
    """A pool whose batches finish only when the test opens the gate."""

    def __init__(self, runner: PipelineRunner) -> None:
        super().__init__(runner)
        self.gate = asyncio.Event()
        self.started = 0

    async def process(self, items, owner):
        self.started += 1
        await self.gate.wait()
        return await super().process(items, owner)


FAST = Backoff(first_seconds=0.01, max_seconds=0.05)


async def test_an_unexpected_lease_error_restarts_the_loop_and_the_queue_drains(
    stores, settings, spool_message, caplog
):
    for _ in range(3):
        spool_message(BODY, "alice@example.test")
    settings.queue.poll_interval = 30.0  # only the restarts lease: no poll hides a dead loop
    store = CountingStore(stores.metadata, failures=3)
    pool = ThreadPool(PipelineRunner(stores, settings.queue))
    supervisor = Supervisor(LEASE_LOOP, lambda: dispatcher.run(), FAST)
    dispatcher = QueueDispatcher(
        store, pool, "d1", settings.queue, max_in_flight=1, on_progress=supervisor.progress
    )
    with caplog.at_level(logging.ERROR, logger="mairust.supervision"):
        task = asyncio.create_task(supervisor.run())
        await wait_for(lambda: dispatcher.stats.delivered == 3)
    supervisor.stop()
    await dispatcher.stop()
    await task
    assert supervisor.restarts == 3
    assert supervisor.last_error == "RuntimeError: lease bug"
    assert supervisor.state.seconds_since_progress is not None
    assert stores.metadata.queue_counts()[QueueState.DONE] == 3
    logged = [r for r in caplog.records if r.exc_info and "lease bug" in str(r.exc_info[1])]
    assert len(logged) == 3  # each failure logged, with its traceback


async def test_a_loop_that_keeps_failing_is_given_up(stores, settings, spool_message):
    spool_message(BODY, "alice@example.test")
    store = CountingStore(stores.metadata, failures=1000)
    pool = ThreadPool(PipelineRunner(stores, settings.queue))
    dispatcher = QueueDispatcher(store, pool, "d1", settings.queue, max_in_flight=1)
    supervisor = Supervisor(
        LEASE_LOOP, dispatcher.run, Backoff(first_seconds=0.01, give_up_after=3)
    )
    with pytest.raises(LoopGaveUp, match="dispatcher lease loop: RuntimeError: lease bug"):
        await supervisor.run()
    assert (store.lease_calls, supervisor.restarts, supervisor.state.gave_up) == (3, 2, True)
    assert stores.metadata.queue_counts()[QueueState.QUEUED] == 1


async def test_an_unexpected_pool_error_hands_the_batch_back(stores, settings, spool_message):
    spool_message(BODY, "alice@example.test")

    class BrokenPool:
        async def process(self, items, owner):
            raise KeyError("pool bug")

    dispatcher = QueueDispatcher(stores.metadata, BrokenPool(), "d1", settings.queue, 1)
    task = asyncio.create_task(dispatcher.run())
    await wait_for(lambda: dispatcher.stats.lost_batches == 1)
    await dispatcher.stop()
    await task
    [row] = stores.metadata.list_queue()
    assert row.state is QueueState.QUEUED
    assert "KeyError" in (row.last_error or "")


async def test_an_idle_dispatcher_leases_once_per_poll_tick(stores, settings):
    settings.queue.poll_interval = 0.25
    store = CountingStore(stores.metadata)
    pool = ThreadPool(PipelineRunner(stores, settings.queue))
    dispatcher = QueueDispatcher(store, pool, "d1", settings.queue, max_in_flight=2)
    task = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(1.1)
    await dispatcher.stop()
    await task
    # One lease at start, then one per tick (4 ticks in 1.1 s; a slow machine may lag one).
    assert 4 <= store.lease_calls <= 5


async def test_heartbeats_are_written_every_few_seconds_not_per_lease(
    stores, settings, spool_message
):
    settings.queue.poll_interval = 0.02
    store = CountingStore(stores.metadata)
    pool = ThreadPool(PipelineRunner(stores, settings.queue))
    dispatcher = QueueDispatcher(
        store, pool, "d1/1", settings.queue, max_in_flight=1, instance="d1"
    )
    task = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(0.5)
    await dispatcher.stop()
    await task
    assert store.lease_calls >= 10
    assert store.heartbeats == 1  # the first lease; the next is due 5 s later
    beat = stores.metadata.last_heartbeat(LEASE_LOOP)
    assert beat is not None
    assert datetime.now(UTC) - beat < timedelta(seconds=5)


def test_a_queue_that_moves_is_no_stall(stores, spool_message):
    now = datetime.now(UTC)
    assert lease_loop_stall(stores.metadata, 60, now + timedelta(hours=1)) is None  # empty
    spool_message(BODY, "alice@example.test")
    assert lease_loop_stall(stores.metadata, 60, now + timedelta(seconds=30)) is None  # young
    stores.metadata.record_heartbeat(LEASE_LOOP, "d1", now + timedelta(seconds=100))
    assert lease_loop_stall(stores.metadata, 60, now + timedelta(seconds=120)) is None  # leasing


def test_due_rows_older_than_the_window_without_a_lease_are_a_stall(stores, spool_message):
    start = datetime.now(UTC)
    spool_message(BODY, "alice@example.test")
    stall = lease_loop_stall(stores.metadata, 60, start + timedelta(seconds=90))
    assert stall is not None and stall.last_lease_seconds is None
    assert stall.describe().startswith("dispatcher lease loop stalled: oldest due row 90 s old")
    assert stall.describe().endswith("no lease recorded")
    stores.metadata.record_heartbeat(LEASE_LOOP, "d1", start + timedelta(seconds=5))
    stall = lease_loop_stall(stores.metadata, 60, start + timedelta(seconds=90))
    assert stall is not None
    assert stall.describe() == (
        "dispatcher lease loop stalled: oldest due row 90 s old, last lease 85 s ago"
    )


def test_lease_owners_are_incarnations_of_a_stable_identity(tmp_path):
    identity = dispatcher_identity(tmp_path, node="mx1")
    assert identity == dispatcher_identity(tmp_path, node="mx1")
    assert identity != dispatcher_identity(tmp_path / "other", node="mx1")
    assert identity != dispatcher_identity(tmp_path, node="mx2")
    first, second = new_incarnation(identity), new_incarnation(identity)
    assert first != second
    assert first.startswith(owner_prefix(identity)) and second.startswith(owner_prefix(identity))
    assert not owner_prefix(identity).startswith(owner_prefix(identity + "0"))


async def test_nudges_to_a_busy_dispatcher_neither_lease_nor_spin(stores, settings, spool_message):
    for _ in range(10):
        spool_message(BODY, "alice@example.test")
    settings.queue.batch_size = 4
    settings.queue.poll_interval = 30.0
    metadata = CountingStore(stores.metadata)
    pool = GatedPool(PipelineRunner(stores, settings.queue))
    dispatcher = QueueDispatcher(metadata, pool, "d1", settings.queue, max_in_flight=1)
    task = asyncio.create_task(dispatcher.run())
    await wait_for(lambda: metadata.lease_calls == 1)
    turns = dispatcher.stats.loop_turns
    for _ in range(50):
        dispatcher.nudge()
        await asyncio.sleep(0.005)
    assert metadata.lease_calls == 1, "the dispatcher leased while its only slot was busy"
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
