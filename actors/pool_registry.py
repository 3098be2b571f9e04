"""The pools' notice board: each pool's members, where they run and its bounds (written by
the pool scaler in the driver; read by a restarted dispatcher or front-end, by `mairust
cluster status` and by ``/metrics``), and the drain requests of `mairust cluster drain`.

Why an actor: the members belong to the driver that created them (a non-detached actor
dies with its owner), so only the driver's scaler may create or end them; a drain command
is a short-lived process of its own and cannot own anything it would start. It writes its
request here, the scaler reads it at its next look, moves the node's members and writes
back what moved.

It holds nothing that is not written again: the scaler publishes every pool at each look,
so a registry that Ray restarted is whole again within one scale interval, and the drain
command asks again when its request was lost with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest
from ray._private import state as ray_private_state

from actors.telemetry import actor_label
from mairust.telemetry import TelemetrySnapshot

_log = logging.getLogger(__name__)

POOL_REGISTRY = "pool-registry"
# How long a (re)starting consumer waits for the registry before it uses its start-up list.
LOOKUP_SECONDS = 5.0


class PoolRegistryHost:
    """Plain data in, plain data out; every method is quick."""

    def __init__(self) -> None:
        self._pools: dict[str, dict[str, Any]] = {}
        # node id -> {"state": "requested" | "done" | "failed", "moves": [...], "error": ...}
        self._drains: dict[str, dict[str, Any]] = {}
        self._metrics = CollectorRegistry(auto_describe=True)
        labels = ["pool"]
        self._size = Gauge(
            "mairust_pool_size", "Members of a worker pool now.", labels, registry=self._metrics
        )
        self._min = Gauge(
            "mairust_pool_min_size", "A worker pool's lower bound.", labels, registry=self._metrics
        )
        self._max = Gauge(
            "mairust_pool_max_size", "A worker pool's upper bound.", labels, registry=self._metrics
        )

    def publish(self, pool: str, report: dict[str, Any]) -> None:
        """A pool as the scaler sees it: ``members`` (name -> node id, "" while unknown),
        ``minimum``, ``maximum``, ``per_member``, ``load``."""
        self._pools[pool] = report
        self._size.labels(pool).set(len(report["members"]))
        self._min.labels(pool).set(report["minimum"])
        self._max.labels(pool).set(report["maximum"])

    def members(self, pool: str) -> list[str]:
        """The pool's member names in order ([] when not published yet)."""
        return list(self._pools.get(pool, {}).get("members", {}))

    def report(self) -> dict[str, dict[str, Any]]:
        return {pool: dict(report) for pool, report in sorted(self._pools.items())}

    def request_drain(self, node_id: str) -> dict[str, Any]:
        """Ask the scaler to move every pool member off ``node_id``; the request's state."""
        state = self._drains.get(node_id)
        if state is None or state["state"] == "failed":
            state = self._drains[node_id] = {"state": "requested", "moves": [], "error": None}
        return dict(state)

    def drain_requests(self) -> list[str]:
        return [node for node, state in self._drains.items() if state["state"] == "requested"]

    def drain_finished(self, node_id: str, moves: list[dict[str, str]], error: str | None) -> None:
        self._drains[node_id] = {
            "state": "failed" if error else "done",
            "moves": moves,
            "error": error,
        }

    def drain_state(self, node_id: str) -> dict[str, Any] | None:
        state = self._drains.get(node_id)
        return None if state is None else dict(state)

    def telemetry_snapshot(self) -> TelemetrySnapshot:
        """The pools' sizes and bounds, for the API's /metrics."""
        return TelemetrySnapshot(
            process=actor_label(), exposition=generate_latest(self._metrics).decode("utf-8")
        )


PoolRegistryActor = ray.remote(num_cpus=0, max_restarts=-1)(PoolRegistryHost)


async def registered_members(pool: str, fallback: list[str]) -> list[str]:
    """For an actor that Ray restarted: the members the registry lists for ``pool`` (the
    pool may have changed since its start-up list was made); ``fallback`` on a first
    start (the start-up list is the pool then; the scaler announces every change, and
    repeats the members at each look) or when the registry does not answer."""
    if not _restarted():
        return fallback
    try:
        registry = ray.get_actor(POOL_REGISTRY)
        members: list[str] = await asyncio.wait_for(
            registry.members.remote(pool), timeout=LOOKUP_SECONDS
        )
    except (ValueError, ray.exceptions.RayError, TimeoutError) as exc:
        _log.info("pool registry not available (%r): %s members as started", exc, pool)
        return fallback
    return members or fallback


def _restarted() -> bool:
    """Whether Ray restarted the calling actor, from the GCS actor table. Ray's own
    ``was_current_actor_reconstructed`` prints a deprecation warning into the actor's
    output (it reads the deprecated ``actor_id``) and asks the state API."""
    actor_id = ray.get_runtime_context().get_actor_id()
    if actor_id is None:
        return False
    info: dict[str, Any] = ray_private_state.state.actor_table(actor_id)
    return int(info.get("NumRestarts") or 0) > 0
