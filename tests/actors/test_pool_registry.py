"""PoolRegistryActor: the pools as the scaler publishes them, the drain requests' life, the
pool gauges for /metrics; ``registered_members`` on a first start."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import os
import time
from typing import Any

import pytest
import ray

from actors.pool_registry import POOL_REGISTRY, PoolRegistryActor, registered_members


def pool(members: dict[str, str], minimum: int = 1, maximum: int = 3) -> dict[str, Any]:
    return {
        "members": members,
        "minimum": minimum,
        "maximum": maximum,
        "per_member": 5,
        "load": None,
    }


def test_published_pools_are_read_back_and_measured(spawn):
    registry = spawn(PoolRegistryActor, name=POOL_REGISTRY)
    assert ray.get(registry.members.remote("pipeline"), timeout=60) == []
    ray.get(
        registry.publish.remote(
            "pipeline", pool({"pipeline-worker-0": "n1", "pipeline-worker-2": ""})
        )
    )
    ray.get(registry.publish.remote("auth", pool({"auth-checker-0": "n2"}, 2, 2)))

    assert ray.get(registry.members.remote("pipeline")) == [
        "pipeline-worker-0",
        "pipeline-worker-2",
    ]
    report = ray.get(registry.report.remote())
    assert list(report) == ["auth", "pipeline"]
    assert report["pipeline"]["members"]["pipeline-worker-0"] == "n1"
    text = ray.get(registry.telemetry_snapshot.remote()).exposition
    assert 'mairust_pool_size{pool="pipeline"} 2.0' in text
    assert 'mairust_pool_min_size{pool="auth"} 2.0' in text
    assert 'mairust_pool_max_size{pool="pipeline"} 3.0' in text


def test_a_drain_request_is_pending_until_finished_and_a_failed_one_may_be_asked_again(spawn):
    registry = spawn(PoolRegistryActor)
    assert ray.get(registry.drain_state.remote("n1"), timeout=60) is None
    assert ray.get(registry.request_drain.remote("n1"))["state"] == "requested"
    assert ray.get(registry.drain_requests.remote()) == ["n1"]
    moves = [
        {
            "pool": "pipeline",
            "left": "pipeline-worker-1",
            "joined": "pipeline-worker-3",
            "node": "n2",
        }
    ]
    ray.get(registry.drain_finished.remote("n1", moves, None))
    assert ray.get(registry.drain_requests.remote()) == []
    assert ray.get(registry.drain_state.remote("n1")) == {
        "state": "done",
        "moves": moves,
        "error": None,
    }
    # Asking again for a node already done answers what was done.
    assert ray.get(registry.request_drain.remote("n1"))["state"] == "done"
    ray.get(registry.drain_finished.remote("n2", [], "no room"))
    assert ray.get(registry.request_drain.remote("n2"))["state"] == "requested"


@ray.remote(num_cpus=0, max_restarts=1)
class _Consumer:
    """Reads its members as the dispatcher and the front-ends do, at every (re)start."""

    async def __init__(self) -> None:  # type: ignore[misc]
        self.found = await registered_members("pipeline", ["pipeline-worker-0"])

    async def members(self) -> list[str]:
        return self.found

    async def crash(self) -> None:
        os._exit(1)


def test_a_first_start_uses_its_list_and_a_restart_asks_the_registry(spawn):
    registry = spawn(PoolRegistryActor, name=POOL_REGISTRY)
    ray.get(registry.publish.remote("pipeline", pool({"pipeline-worker-7": "n1"})), timeout=60)
    consumer = spawn(_Consumer)
    assert ray.get(consumer.members.remote(), timeout=60) == ["pipeline-worker-0"]
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(consumer.crash.remote(), timeout=60)
    deadline = time.monotonic() + 60
    while True:  # calls fail while Ray starts it again
        try:
            found = ray.get(consumer.members.remote(), timeout=60)
            break
        except ray.exceptions.RayActorError:
            assert time.monotonic() < deadline, "the consumer did not come back"
            time.sleep(0.2)
    assert found == ["pipeline-worker-7"]
