"""Read a running Ray cluster's nodes and actors as a driver, without Ray's dashboard.

Why this adapter: Ray's public state API (``ray.util.state.list_actors``, ``ray list
actors``) asks the dashboard, and ``mairust up`` runs Ray with ``include_dashboard=False``
(the dashboard and its agents cost idle CPU on every node). What works without it is the
GCS itself: ``ray.nodes()`` and, for actors, Ray's ``GlobalState.actor_table`` in
``ray._private.state``, which reads the GCS actor table and gives each actor's state and
``NumRestarts`` (Ray 2.60). That module is private (as is the token-auth set-up used to
join), so every use of Ray's private modules stays here: a Ray upgrade that moves them
breaks this one module and its tests, nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ray
from ray._private import state as ray_state
from ray._private.authentication.authentication_token_setup import (
    maybe_enable_token_auth_if_token_available,
)

from mairust.errors import MairustError

# Ray's notice that token authentication is on (see cluster.ray_runtime).
_AUTH_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"
# Seconds to wait for the GCS port before saying nothing runs there (ray.init itself
# retries an unreachable GCS for much longer).
PROBE_TIMEOUT = 3.0


class ClusterNotRunning(MairustError):
    """No Ray cluster answers at the address the config or the data dir names."""


@dataclass(frozen=True, slots=True)
class RayNode:
    node_id: str
    address: str
    alive: bool
    resources: dict[str, float]  # totals
    available: dict[str, float]  # what is free now (empty for a dead node)


@dataclass(frozen=True, slots=True)
class RayActor:
    actor_id: str
    name: str
    class_name: str
    node_id: str
    state: str  # ALIVE, RESTARTING, DEAD, PENDING_CREATION, DEPENDENCIES_UNREADY
    restarts: int
    pid: int


@contextlib.contextmanager
def connected_driver(address: str) -> Iterator[None]:
    """Join the cluster at ``address`` as a driver for a few reads, then leave it.

    The driver creates no actor and takes no resources, streams no worker logs, and
    leaves with ``ray.shutdown()``: the platform running there does not notice it.
    """
    host, _, port = address.rpartition(":")
    if host and port.isdigit():  # "auto" and the like are Ray's to resolve
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT):
                pass
        except OSError as exc:
            raise ClusterNotRunning(f"no Ray cluster answers at {address} ({exc})") from exc
    # Ray turns token authentication on for every new cluster, the embedded `mairust up`
    # included (token in ~/.ray/auth_token), but a driver given an explicit address
    # joins without it unless RAY_AUTH_MODE=token. Do what Ray does for address="auto":
    # with RAY_AUTH_MODE unset and a token on this machine, use it. (Setting the variable
    # here is not enough: Ray's C++ config has read the environment already.)
    logging.getLogger(_AUTH_NOTICE_LOGGER).setLevel(logging.ERROR)  # on is no news
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    loopback = host.startswith("127.") or host in ("localhost", "::1")
    try:
        ray.init(
            address=address,
            # A driver on a loopback cluster binds to loopback too (DESIGN §7).
            _node_ip_address="127.0.0.1" if loopback else None,
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, ray.exceptions.RayError) as exc:
        raise ClusterNotRunning(f"cannot join the Ray cluster at {address}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


def nodes() -> list[RayNode]:
    available: dict[str, dict[str, float]] = ray_state.state.available_resources_per_node()  # type: ignore[no-untyped-call]
    found = []
    for node in ray.nodes():  # type: ignore[no-untyped-call]
        node_id = str(node["NodeID"])
        found.append(
            RayNode(
                node_id=node_id,
                address=str(node.get("NodeManagerAddress", "")),
                alive=bool(node.get("Alive")),
                resources=dict(node.get("Resources") or {}),
                available=dict(available.get(node_id, {})),
            )
        )
    return found


def actors() -> list[RayActor]:
    """Every actor the GCS knows, live and dead, of every job and namespace."""
    table: dict[str, dict[str, Any]] = ray_state.state.actor_table(None)
    return [
        RayActor(
            actor_id=actor_id,
            name=str(info.get("Name") or ""),
            class_name=str(info.get("ActorClassName") or ""),
            node_id=str(info.get("Address", {}).get("NodeID") or ""),
            state=str(info.get("State") or ""),
            restarts=int(info.get("NumRestarts") or 0),
            pid=int(info.get("Pid") or 0),
        )
        for actor_id, info in table.items()
    ]


def actor_id_of(handle: Any) -> str:
    """The id (hex) of the actor behind a handle this driver holds, as in :func:`actors`."""
    return str(handle._actor_id.hex())
