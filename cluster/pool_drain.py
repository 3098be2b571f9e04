"""The pools' part of `mairust cluster drain NODE`: ask the pool scaler (through the pool
registry) to move every pool member off the node, wait for its answer, and check in Ray's
own actor table that no pool member is left there.

The drain command is a short-lived driver: it cannot make the replacements itself (an
actor dies with the driver that made it), so the scaler of the `mairust cluster up` that
owns the pools does the moving; this only asks, waits and checks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ray

from actors.auth_checker import AuthCheckerHost
from actors.delivery import DeliveryHost
from actors.pipeline_worker import PipelineWorker
from actors.pool_registry import POOL_REGISTRY
from cluster import ray_state

POOL_MEMBER_CLASSES = frozenset(
    host.__name__ for host in (PipelineWorker, AuthCheckerHost, DeliveryHost)
)
# Between looks at the request's state (the scaler answers at its next look).
POLL_SECONDS = 0.5
CALL_SECONDS = 10.0


class PoolMoveFailed(RuntimeError):
    """The pools could not be moved off the node (no registry, no room, a timeout)."""


@dataclass(frozen=True, slots=True)
class Move:
    pool: str
    left: str
    joined: str
    node: str  # where the new member runs


def move_pools_off(node_id: str, timeout: float) -> list[Move]:
    """Every pool member on ``node_id`` replaced by one elsewhere; what moved."""
    try:
        registry: Any = ray.get_actor(POOL_REGISTRY)
    except ValueError as exc:  # Ray: no actor of that name
        raise PoolMoveFailed(
            "no pool registry on the cluster (is `mairust cluster up` running?)"
        ) from exc
    deadline = time.monotonic() + timeout
    _call(registry.request_drain.remote(node_id))
    while time.monotonic() < deadline:
        state = _call(registry.drain_state.remote(node_id))
        if state is None:  # the registry restarted and forgot: ask again
            _call(registry.request_drain.remote(node_id))
        elif state["state"] == "failed":
            raise PoolMoveFailed(f"the pool scaler could not move the members: {state['error']}")
        elif state["state"] == "done":
            return [Move(**move) for move in state["moves"]]
        time.sleep(POLL_SECONDS)
    raise PoolMoveFailed(f"the pool scaler did not move the members within {timeout:g} s")


def pool_members_on(node_id: str) -> list[str]:
    """Pool members Ray has on ``node_id`` now (alive, restarting or being created)."""
    return sorted(
        actor.name or actor.actor_id
        for actor in ray_state.actors()
        if actor.class_name in POOL_MEMBER_CLASSES
        and actor.node_id == node_id
        and actor.state != "DEAD"
    )


def _call(ref: Any) -> Any:
    try:
        return ray.get(ref, timeout=CALL_SECONDS)
    except (ray.exceptions.RayError, TimeoutError) as exc:
        raise PoolMoveFailed(f"the pool registry did not answer: {exc}") from exc
