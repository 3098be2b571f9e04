"""DispatcherActor: leases committed rows and has real pipeline workers deliver them.

The queue's poll interval is 30 s here, so a delivery within seconds comes from ``nudge()``.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import time

import pytest
import ray

from actors.dispatcher import DispatcherActor
from actors.pipeline_worker import PipelineWorkerActor
from mairust.model.ids import new_id
from mairust.model.queue import QueueState
from mairust.pipeline.dispatcher import LEASE_LOOP, dispatcher_identity, owner_prefix

CALL_TIMEOUT = 60


def start_workers(spawn, settings, count=2) -> list[str]:
    """Named pipeline workers (the dispatcher finds them by name); their names."""
    names = [f"pipeline-worker-{new_id()}" for _ in range(count)]
    for name in names:
        spawn(PipelineWorkerActor, settings, name=name)
    return names


@pytest.fixture
def running(spawn, world):
    """Two pipeline workers and a dispatcher over ``world``'s stores, dispatcher up and idle."""
    dispatcher = spawn(DispatcherActor, world.settings, start_workers(spawn, world.settings))
    # The constructor's first lease found nothing; from now on only a nudge or the poll leases.
    assert ray.get(dispatcher.stats.remote(), timeout=CALL_TIMEOUT)["rows_leased"] == 0
    return dispatcher


def all_done(world, refs) -> bool:
    rows = [row for ref in refs for row in world.rows(ref.id)]
    return bool(rows) and all(row.state is QueueState.DONE for row in rows)


def test_committed_rows_are_delivered_after_a_nudge(running, world, body, wait_until):
    alice, bob = world.mailbox(), world.mailbox()
    first = world.spool(body("meerkat"), alice, bob)
    second = world.spool(body("okapi"), alice)

    ray.get(running.nudge.remote(), timeout=CALL_TIMEOUT)
    wait_until(lambda: all_done(world, [first, second]), timeout=15, what="rows delivered")

    assert sorted(e.mailbox_address for e in world.entries(first.id)) == sorted([alice, bob])
    assert [e.mailbox_address for e in world.entries(second.id)] == [alice]
    assert world.search("meerkat") == {e.id for e in world.entries(first.id)}
    # The worker acks in the store before its report reaches the dispatcher.
    stats = wait_until(
        lambda: (
            (s := ray.get(running.stats.remote(), timeout=CALL_TIMEOUT))["delivered"] == 3 and s
        ),
        timeout=15,
        what="the dispatcher's report",
    )
    assert stats["rows_leased"] == 3
    assert stats["batches"] >= 1
    assert (stats["deferred"], stats["failed"], stats["lost_batches"]) == (0, 0, 0)


def test_stats_count_failed_rows(running, world, body, wait_until):
    ref = world.spool(body("tapir"), f"ghost@{world.settings.domains[0]}")

    ray.get(running.nudge.remote(), timeout=CALL_TIMEOUT)
    wait_until(
        lambda: [row.state for row in world.rows(ref.id)] == [QueueState.FAILED],
        timeout=15,
        what="row failed",
    )

    stats = ray.get(running.stats.remote(), timeout=CALL_TIMEOUT)
    assert (stats["rows_leased"], stats["delivered"], stats["failed"]) == (1, 0, 1)


def test_stop_returns_and_nothing_is_leased_afterwards(running, world, body, wait_until):
    delivered = world.spool(body("wombat"), world.mailbox())
    ray.get(running.nudge.remote(), timeout=CALL_TIMEOUT)
    # A nudge only wakes the loop: a stop() that lands first rightly leases nothing, so
    # the row must be leased before stop() can show that batches in flight finish.
    wait_until(
        lambda: ray.get(running.stats.remote(), timeout=CALL_TIMEOUT)["rows_leased"] == 1,
        timeout=15,
        what="the row leased",
    )

    assert ray.get(running.stop.remote(), timeout=CALL_TIMEOUT) is None

    # Batches in flight finish before stop() returns.
    assert [row.state for row in world.rows(delivered.id)] == [QueueState.DONE]
    late = world.spool(body("quoll"), world.mailbox())
    ray.get(running.nudge.remote(), timeout=CALL_TIMEOUT)
    time.sleep(2.0)  # a running dispatcher leases a nudged row well within this
    [row] = world.rows(late.id)
    assert (row.state, row.attempts) == (QueueState.QUEUED, 0)
    assert ray.get(running.stats.remote(), timeout=CALL_TIMEOUT)["rows_leased"] == 1


def test_a_lost_worker_hands_its_batch_back_to_the_queue(spawn, world, body, wait_until):
    [name] = start_workers(spawn, world.settings, count=1)
    dispatcher = spawn(DispatcherActor, world.settings, [name])
    assert ray.get(dispatcher.stats.remote(), timeout=CALL_TIMEOUT)["rows_leased"] == 0
    doomed = ray.get_actor(name)
    ray.get(doomed.ping.remote(), timeout=CALL_TIMEOUT)
    ray.kill(doomed, no_restart=True)
    ref = world.spool(body("numbat"), world.mailbox())

    ray.get(dispatcher.nudge.remote(), timeout=CALL_TIMEOUT)
    stats = wait_until(
        lambda: (
            (s := ray.get(dispatcher.stats.remote(), timeout=CALL_TIMEOUT))["lost_batches"] and s
        ),
        timeout=15,
        what="the lost batch",
    )

    assert (stats["rows_leased"], stats["lost_batches"], stats["delivered"]) == (1, 1, 0)
    [row] = world.rows(ref.id)
    assert row.state is QueueState.QUEUED
    assert row.attempts == 1
    assert "worker lost" in (row.last_error or "")
    assert world.entries(ref.id) == []


def test_a_starting_dispatcher_hands_back_its_earlier_incarnations_leases_only(
    spawn, world, body, wait_until
):
    mine = world.spool(body("bilby"), world.mailbox())
    theirs = world.spool(body("dingo"), world.mailbox())
    identity = dispatcher_identity(world.settings.data_dir)
    # An earlier incarnation of this node's dispatcher died holding a lease for an hour;
    # another node's dispatcher (same database) holds one too.
    [leased] = world.stores.metadata.lease_batch(f"{owner_prefix(identity)}dead", 1, 3600)
    assert leased.message.id == mine.id
    [other] = world.stores.metadata.lease_batch("dispatcher@elsewhere:0/alive", 1, 3600)
    assert other.message.id == theirs.id

    dispatcher = spawn(DispatcherActor, world.settings, start_workers(spawn, world.settings))

    # Delivered without a nudge and long before the hour: handed back at start.
    ray.get(dispatcher.stats.remote(), timeout=CALL_TIMEOUT)  # started (Ray may be slow)
    wait_until(lambda: all_done(world, [mine]), timeout=15, what="the released row delivered")
    [row] = world.rows(theirs.id)
    assert (row.state, row.lease_owner) == (QueueState.LEASED, "dispatcher@elsewhere:0/alive")
    assert world.entries(theirs.id) == []
    stats = ray.get(dispatcher.stats.remote(), timeout=CALL_TIMEOUT)
    assert (stats["rows_leased"], stats["loop_restarts"]) == (1, 0)
    loop = ray.get(dispatcher.lease_loop.remote(), timeout=CALL_TIMEOUT)
    assert loop["running"] and loop["last_error"] is None
    assert loop["seconds_since_progress"] is not None
    assert world.stores.metadata.last_heartbeat(LEASE_LOOP) is not None
