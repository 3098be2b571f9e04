"""cluster/pool_drain: the drain command's side of moving the pools: it asks through the
registry, waits for the scaler's answer (here a thread playing the scaler), and fails with
the scaler's reason or when nobody answers."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import threading
import time
from typing import Any

import pytest
import ray

from actors.pipeline_worker import PipelineWorkerActor
from actors.pool_registry import POOL_REGISTRY, PoolRegistryActor
from cluster.pool_drain import Move, PoolMoveFailed, move_pools_off, pool_members_on


@pytest.fixture
def registry(loopback_ray):
    handle: Any = PoolRegistryActor.options(name=POOL_REGISTRY).remote()
    ray.get(handle.report.remote(), timeout=60)
    yield handle
    ray.kill(handle, no_restart=True)


def play_scaler(registry, node: str, error: str | None) -> threading.Thread:
    def answer() -> None:
        while node not in ray.get(registry.drain_requests.remote()):
            time.sleep(0.1)
        moves = [
            {"pool": "auth", "left": "auth-checker-0", "joined": "auth-checker-2", "node": "n2"}
        ]
        ray.get(registry.drain_finished.remote(node, [] if error else moves, error))

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_the_moves_the_scaler_made_are_returned(registry):
    scaler = play_scaler(registry, "n1", None)
    assert move_pools_off("n1", timeout=30) == [
        Move("auth", "auth-checker-0", "auth-checker-2", "n2")
    ]
    scaler.join(5)


def test_the_scalers_failure_is_the_commands(registry):
    scaler = play_scaler(registry, "n3", "NoNodeLeft: no live node")
    with pytest.raises(PoolMoveFailed, match="no live node"):
        move_pools_off("n3", timeout=30)
    scaler.join(5)


def test_no_answer_within_the_timeout_fails(registry):
    with pytest.raises(PoolMoveFailed, match="within 1 s"):
        move_pools_off("n4", timeout=1)


def test_without_a_registry_it_says_cluster_up_is_not_running(loopback_ray):
    with pytest.raises(PoolMoveFailed, match="is `mairust cluster up` running"):
        move_pools_off("n5", timeout=5)


def test_members_on_a_node_are_read_from_rays_actor_table(loopback_ray):
    node = ray.get_runtime_context().get_node_id()
    worker: Any = PipelineWorkerActor.options(name="pipeline-worker-drain-test").remote(
        loopback_ray
    )
    ray.get(worker.ping.remote(), timeout=60)
    assert "pipeline-worker-drain-test" in pool_members_on(node)
    assert pool_members_on("0" * 56) == []
    ray.kill(worker, no_restart=True)
    deadline = time.monotonic() + 30
    while "pipeline-worker-drain-test" in pool_members_on(node) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "pipeline-worker-drain-test" not in pool_members_on(node)
