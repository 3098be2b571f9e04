"""PipelineWorkerActor: a real worker process runs leased batches against the embedded stores."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import os

import pytest
import ray

from actors.pipeline_worker import PipelineWorkerActor
from mairust.model.queue import QueueState
from mairust.pipeline.runner import BatchReport
from serve.telemetry_source import named_actor_telemetry
from tests.mairust.test_telemetry import values

WORKER_NAME = "pipeline-worker-under-test"


@pytest.fixture(scope="module")
def worker(module_spawn, module_world):
    # Named, as `mairust up` names its workers: the API finds their counters by name.
    return module_spawn(PipelineWorkerActor, module_world.settings, name=WORKER_NAME)


def test_worker_runs_in_its_own_process_on_the_loopback_node(worker):
    pid = ray.get(worker.ping.remote(), timeout=60)
    assert isinstance(pid, int)
    assert pid != os.getpid()


def test_worker_runs_at_the_configured_niceness(worker, module_world):
    wanted = module_world.settings.cluster.pipeline_worker_nice
    assert wanted > 0
    assert ray.get(worker.niceness.remote(), timeout=60) == max(wanted, os.nice(0))


def test_leased_batch_is_stored_in_each_mailbox_and_indexed(worker, module_world, body):
    world = module_world
    alice, bob = world.mailbox(), world.mailbox()
    ref = world.spool(body("quokka"), alice, bob)
    items = world.stores.metadata.lease_batch("owner-a", 100, 60)
    assert {item.message.id for item in items} == {ref.id}

    report = ray.get(worker.process.remote(items, "owner-a"), timeout=60)

    assert report == BatchReport(delivered=2, deferred=0, failed=0)
    entries = world.entries(ref.id)
    assert sorted(entry.mailbox_address for entry in entries) == sorted([alice, bob])
    assert {entry.blob_key for entry in entries} == {ref.blob_key}
    assert all(entry.subject == "hello from the tests" for entry in entries)
    assert world.search("quokka") == {entry.id for entry in entries}
    assert {row.state for row in world.rows(ref.id)} == {QueueState.DONE}


def test_a_batch_run_twice_is_stored_once(worker, module_world, body):
    world = module_world
    carol = world.mailbox()
    ref = world.spool(body("pangolin"), carol)
    items = world.stores.metadata.lease_batch("owner-b", 100, 60)
    assert [item.message.id for item in items] == [ref.id]

    # A lost reply: the dispatcher cannot tell, and the same batch runs again.
    first = ray.get(worker.process.remote(items, "owner-b"), timeout=60)
    second = ray.get(worker.process.remote(items, "owner-b"), timeout=60)

    assert first.delivered == 1
    assert second.delivered == 1
    [entry] = world.entries(ref.id)
    assert entry.mailbox_address == carol
    assert world.search("pangolin") == {entry.id}
    assert world.stores.metadata.count_entries_for_message(ref.id) == 1


def test_recipient_without_mailbox_fails_permanently(worker, module_world, body):
    world = module_world
    ref = world.spool(body("axolotl"), "nobody-here@example.test")
    items = world.stores.metadata.lease_batch("owner-c", 100, 60)

    report = ray.get(worker.process.remote(items, "owner-c"), timeout=60)

    assert report == BatchReport(delivered=0, deferred=0, failed=1)
    [row] = world.rows(ref.id)
    assert row.state is QueueState.FAILED
    assert (row.last_error or "").startswith("5.1.1")
    assert world.entries(ref.id) == []


def delivered_rows() -> float:
    """The worker's delivered-rows counter as the API replica reads it (by actor name)."""
    snapshots = {snapshot.process: snapshot for snapshot in named_actor_telemetry()}
    text = snapshots[WORKER_NAME].exposition
    return values(text, "mairust_pipeline_rows_total").get((("outcome", "delivered"),), 0.0)


def test_the_workers_counters_reach_the_api_by_its_name(worker, module_world, body):
    world = module_world
    before = delivered_rows()
    world.spool(body("okapi"), world.mailbox())
    items = world.stores.metadata.lease_batch("owner-d", 100, 60)
    ray.get(worker.process.remote(items, "owner-d"), timeout=60)
    assert delivered_rows() == before + 1
