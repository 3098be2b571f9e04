"""What ``mairust cluster status`` reports: the cluster's nodes, MaiRust's actors, the worker
pools (size, bounds, members per node: from the pool registry), Serve's apps and replicas
(read from Ray as a driver) and the queue (read from the metadata store).

Which Ray cluster: ``[cluster] ray_address`` when set, else the one the ``mairust up`` of
the data dir recorded (``cluster.ray_address`` module). The report is plain data, so the command
renders it as tables or as JSON and the tests read the same numbers an operator sees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import ray
from ray import serve

from actors.auth_checker import AuthCheckerHost
from actors.delivery import DeliveryHost
from actors.dispatcher import DispatcherHost
from actors.frontend import FrontEndHost
from actors.indexer import IndexerHost
from actors.pipeline_worker import PipelineWorker
from actors.pool_registry import POOL_REGISTRY, PoolRegistryHost
from actors.webhooks import WebhookHost
from cluster import ray_state
from cluster.ray_address import recorded_address
from cluster.ray_runtime import RAY_NAMESPACE
from cluster.ray_state import ClusterNotRunning, RayActor, RayNode
from mairust.cli.directory import cli_principal
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.model.queue import QueueState
from mairust.services.queue import QueueService

# The classes MaiRust runs as Ray actors (Ray names an actor by its class). Other jobs'
# actors on a shared cluster are not MaiRust's; Serve's are listed under Serve.
MAIRUST_ACTOR_CLASSES = frozenset(
    host.__name__
    for host in (
        FrontEndHost,
        DispatcherHost,
        PipelineWorker,
        AuthCheckerHost,
        IndexerHost,
        WebhookHost,
        DeliveryHost,
        PoolRegistryHost,
    )
)
# The pool registry answers within this long, or the report says it did not.
POOL_REGISTRY_SECONDS = 5.0
# Serve's own actors: its controller, the HTTP proxies, and one replica actor per replica
# (class "ServeReplica:<app>:<deployment>").
SERVE_SYSTEM_CLASSES = frozenset({"ServeController", "ProxyActor"})
SERVE_REPLICA_PREFIX = "ServeReplica:"


@dataclass(frozen=True, slots=True)
class ServeDeployment:
    app: str
    app_status: str
    deployment: str
    status: str
    replicas: dict[str, int]  # replica state -> how many


@dataclass(frozen=True, slots=True)
class QueueReport:
    counts: dict[str, int]  # state -> rows
    leased: int
    expired_leases: int
    oldest_lease_seconds: float | None


@dataclass(frozen=True, slots=True)
class PoolReport:
    name: str
    size: int
    minimum: int
    maximum: int
    members: dict[str, str]  # member name -> node id ("" while being placed)
    per_node: dict[str, int]  # node id -> members
    load: dict[str, int] | None  # waiting, in_flight (None: a fixed pool is not measured)


@dataclass(frozen=True, slots=True)
class ClusterReport:
    ray_address: str
    nodes: list[RayNode]
    actors: list[RayActor]  # MaiRust's
    serve: list[ServeDeployment]
    serve_actors: list[RayActor]  # Serve's controller, proxies and replicas
    queue: QueueReport
    pools: list[PoolReport] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def ray_address_of(settings: Settings) -> str:
    """The configured cluster, or the one this data dir's `mairust up` runs."""
    if settings.cluster.ray_address:
        return settings.cluster.ray_address
    record = recorded_address(settings.data_dir)
    if record is None:
        raise ClusterNotRunning(
            f"MaiRust is not running: no cluster.ray_address is set and no `mairust up` "
            f"runs with data dir {settings.data_dir}"
        )
    if not record.owner_alive():
        raise ClusterNotRunning(
            f"MaiRust is not running: the `mairust up` (pid {record.pid}) that recorded "
            f"Ray at {record.address} in {settings.data_dir} is gone"
        )
    return record.address


def collect(settings: Settings) -> ClusterReport:
    """Join the cluster, read it, leave; then read the queue."""
    address = ray_address_of(settings)
    with ray_state.connected_driver(address):
        nodes = ray_state.nodes()
        every_actor = ray_state.actors()
        deployments = serve_deployments()
        pools = pool_reports()
    return ClusterReport(
        ray_address=address,
        nodes=sorted(nodes, key=lambda node: (not node.alive, node.address, node.node_id)),
        actors=_sorted(a for a in every_actor if a.class_name in MAIRUST_ACTOR_CLASSES),
        serve=deployments,
        serve_actors=_sorted(a for a in every_actor if is_serve_actor(a.class_name)),
        queue=queue_report(settings, datetime.now(UTC)),
        pools=pools,
    )


def pool_reports() -> list[PoolReport]:
    """Each pool as its scaler last published it; none when no registry runs (or answers)."""
    try:
        registry = ray.get_actor(POOL_REGISTRY, namespace=RAY_NAMESPACE)
        answer: Any = ray.get(registry.report.remote(), timeout=POOL_REGISTRY_SECONDS)
        published: dict[str, dict[str, Any]] = answer
    except (ValueError, ray.exceptions.RayError, TimeoutError):
        return []
    return [
        PoolReport(
            name=name,
            size=len(pool["members"]),
            minimum=pool["minimum"],
            maximum=pool["maximum"],
            members=dict(pool["members"]),
            per_node=dict(Counter(pool["members"].values())),
            load=pool.get("load"),
        )
        for name, pool in published.items()
    ]


def is_serve_actor(class_name: str) -> bool:
    return class_name in SERVE_SYSTEM_CLASSES or class_name.startswith(SERVE_REPLICA_PREFIX)


def serve_deployments() -> list[ServeDeployment]:
    """Serve's apps from its controller (``serve.status()`` needs no dashboard)."""
    found = []
    for app_name, app in sorted(serve.status().applications.items()):
        for name, deployment in sorted(app.deployments.items()):
            found.append(
                ServeDeployment(
                    app=app_name,
                    app_status=_word(app.status),
                    deployment=name,
                    status=_word(deployment.status),
                    replicas={
                        _word(state): count for state, count in deployment.replica_states.items()
                    },
                )
            )
    return found


def queue_report(settings: Settings, now: datetime) -> QueueReport:
    with opened_stores(settings) as stores:
        service = QueueService(stores.metadata)
        principal = cli_principal()
        counts = service.counts(principal)
        leases = service.lease_ages(principal, settings.queue.lease_seconds, now)
    return QueueReport(
        counts={state.value: counts[state] for state in QueueState},
        leased=leases.leased,
        expired_leases=leases.expired,
        oldest_lease_seconds=leases.oldest_seconds,
    )


def _sorted(actors: Any) -> list[RayActor]:
    return sorted(actors, key=lambda actor: (actor.class_name, actor.name, actor.actor_id))


def _word(value: Any) -> str:
    """Serve's status enums are ``str`` enums: their value, not ``Enum.NAME``."""
    return str(getattr(value, "value", value))
