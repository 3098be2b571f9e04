"""cluster.deployment: pipeline workers are dealt over the live nodes and pinned there.
(Front-ends per node, drain and joins: tests/integration/test_e2e_multi_node.py; a worker
whose node left, replaced by the pool scaler: test_e2e_crash_soak.py.)"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
import ray

from actors.pipeline_worker import PipelineWorkerActor
from cluster.deployment import ClusterDeployment
from cluster.embedded import worker_name
from load.loopback_ray import add_smtp_node, start_head
from mairust.config import Settings


@pytest.fixture(scope="module")
def two_nodes(cluster_settings: Settings) -> Iterator[tuple[Any, list[str]]]:
    """A head and one SMTP node on loopback, this process their driver; the cluster and
    the two nodes' ids, sorted."""
    assert not ray.is_initialized(), "another test left Ray running"
    temp = tempfile.mkdtemp(prefix="mr-dp-", dir="/tmp")  # short: Ray's Unix sockets
    ray_cluster = start_head(temp)
    try:
        add_smtp_node(ray_cluster)
        ray.init(address=ray_cluster.address, namespace="deployment-test", log_to_driver=False)
        yield ray_cluster, sorted(node["NodeID"] for node in ray.nodes() if node["Alive"])
    finally:
        ray.shutdown()
        ray_cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def deployment_on(nodes: list[str], settings: Settings, workers: int) -> Any:
    """A deployment whose pipeline workers are made as `cluster up` makes them."""
    deployment = ClusterDeployment(settings)
    deployment._spread_over = nodes
    deployment._workers = [
        PipelineWorkerActor.options(
            name=worker_name(index), **deployment._worker_options(index)
        ).remote(settings)
        for index in range(workers)
    ]
    return deployment


def stop(deployment: Any) -> None:
    """Kill its workers and wait until their names are free for the next test."""
    for worker in deployment._workers:
        ray.kill(worker, no_restart=True)
    for index in range(len(deployment._workers)):
        for _ in range(100):
            try:
                ray.get_actor(worker_name(index))
            except ValueError:
                break
            time.sleep(0.1)


def test_workers_are_dealt_over_the_nodes_and_stay_there(
    two_nodes: tuple[Any, list[str]], cluster_settings: Settings
) -> None:
    _, nodes = two_nodes
    deployment = deployment_on(nodes, cluster_settings, workers=4)
    try:
        # Soft node affinity put workers elsewhere in most starts; pinned, each is on its node.
        assert deployment.worker_nodes(timeout=60) == [nodes[0], nodes[1], nodes[0], nodes[1]]
    finally:
        stop(deployment)
