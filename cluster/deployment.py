"""MaiRust's actors and Serve apps on a Ray cluster that runs already (`mairust cluster up`).

The wiring is `mairust up`'s (``EmbeddedCluster``: stores, TLS, the API on Serve, the
dispatcher, auth checkers, background loops, the order things start and stop in); what
differs is placement:

- one SMTP front-end per node that carries the ``smtp`` resource, pinned there (hard node
  affinity) and named after the node, on the ports its labels name (``cluster.placement``),
  with ``smtp.frontends_per_node - 1`` peers on the same node and ports (SO_REUSEPORT);
  nodes that join later get theirs from ``add_joined_nodes``, which the command calls while
  it runs;
- the pipeline workers, as many as ``cluster.pipeline_workers``, dealt out over the live
  nodes in turn and pinned there (hard node affinity: Ray's soft affinity was ignored in most
  starts); a worker whose node leaves is replaced on a live node by the pool scaler;
- at the end Serve is shut down, not only its app deleted: its controller and proxy are
  detached actors that would outlive this driver on a cluster that stays.
"""

from __future__ import annotations

import logging
from typing import Any

import ray
from ray import serve
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.frontend import FrontEndActor
from cluster.embedded import DISPATCHER, EmbeddedCluster
from cluster.placement import SmtpNode, node_settings, smtp_nodes
from mairust.config import Settings

_log = logging.getLogger(__name__)

Listeners = list[tuple[str, str, int]]


def alive_node_ids() -> list[str]:
    """The ids of the cluster's live nodes, sorted."""
    return sorted(
        node["NodeID"]
        for node in ray.nodes()  # type: ignore[no-untyped-call]
        if node.get("Alive")
    )


class NoSmtpNode(RuntimeError):
    """No live node of the cluster carries the ``smtp`` resource."""


class ClusterDeployment(EmbeddedCluster):
    """Owns what one `mairust cluster up` started on the cluster it joined."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Front-end name -> the node it was made for (printed, and matched by drain).
        self.nodes: dict[str, SmtpNode] = {}
        # The live nodes (ids) the pipeline workers are dealt out over, looked up once.
        self._spread_over: list[str] = []

    def _create_frontends(self, checker_names: list[str]) -> dict[str, Any]:
        nodes = smtp_nodes(ray.nodes())  # type: ignore[no-untyped-call]
        if not nodes:
            raise NoSmtpNode(
                "no node of the Ray cluster carries the 'smtp' resource: start one with "
                """`ray start --address=... --resources '{"smtp": 1}'`"""
            )
        return {node.frontend_name: self._frontend_on(node) for node in nodes}

    def _frontend_on(self, node: SmtpNode) -> Any:
        self.nodes[node.frontend_name] = node
        # Hard affinity: a front-end belongs to its node; if the node goes, so does it
        # (Ray cannot restart it elsewhere, which is right: its ports are that node's).
        return FrontEndActor.options(
            name=node.frontend_name,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False),
        ).remote(node_settings(self._settings, node), DISPATCHER, self._checker_names)

    def _frontend_settings(self, leader: str) -> Settings:
        return node_settings(self._settings, self.nodes[leader])

    def _peer_options(self, leader: str) -> dict[str, Any]:
        # SO_REUSEPORT shares ports within one host only: the group stays on its node.
        node_id = self.nodes[leader].node_id
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}

    def _worker_options(self, index: int) -> dict[str, Any]:
        # Round robin over the live nodes, pinned (hard node affinity): Ray's SPREAD put both
        # zero-CPU workers of the three-node test on one node, and soft affinity was ignored
        # most of the time (a worker landed on another node than named in most starts).
        # A pinned worker restarts on its node while the node lives; when the node leaves,
        # the pool scaler replaces it on a live one (cluster.pool_scaler).
        if not self._spread_over:
            self._spread_over = alive_node_ids()
        if not self._spread_over:
            return {"scheduling_strategy": "SPREAD"}
        node_id = self._spread_over[index % len(self._spread_over)]
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}

    def add_joined_nodes(self, timeout: float) -> dict[str, Listeners]:
        """A front-end on each SMTP node that has none yet (it joined after the start);
        their listeners, once they listen. A node whose front-end was drained keeps it."""
        created = {
            node.frontend_name: self._frontend_on(node)
            for node in smtp_nodes(ray.nodes())  # type: ignore[no-untyped-call]
            if node.frontend_name not in self._frontends
        }
        self._frontends.update(created)
        listening: dict[str, Listeners] = {}
        for name, actor in created.items():
            try:
                listening[name] = ray.get(actor.listening.remote(), timeout=timeout)
            except (ray.exceptions.RayError, TimeoutError) as exc:
                _log.warning("front-end %s on a new node did not start: %s", name, exc)
                continue
            self.listening[name] = listening[name]
        if listening:
            try:
                self.start_frontend_peers(list(listening), timeout)
            except (ray.exceptions.RayError, TimeoutError) as exc:
                _log.warning("the other front-ends of a new node did not start: %s", exc)
        return listening

    def worker_nodes(self, timeout: float) -> list[str]:
        """The node id of each pipeline worker that answers within ``timeout`` seconds."""
        refs = [worker.node_id.remote() for worker in self._workers]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        return [str(node_id) for node_id in ray.get(ready)]

    def _stop_serve(self) -> None:
        serve.shutdown()  # type: ignore[no-untyped-call]
