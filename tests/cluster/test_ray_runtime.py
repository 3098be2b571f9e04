"""cluster/ray_runtime: the embedded Ray node lives on 127.0.0.1, with no job runtime env."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import os
import sys

import pytest
import ray


def test_importing_cluster_keeps_ray_on_loopback_and_offline():
    # Ray reads these at import time; without the first it binds the machine's address.
    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"


def test_importing_cluster_sets_the_start_up_and_idle_settings():
    # More worker processes start at once than the node has CPUs; no Ray metrics export;
    # a slower Serve control loop.
    # (Ray's names of its C++ settings are case-sensitive.)
    assert int(os.environ["RAY_worker_maximum_startup_concurrency"]) >= 8  # noqa: SIM112
    assert os.environ["RAY_enable_metrics_collection"] == "false"  # noqa: SIM112
    assert float(os.environ["RAY_SERVE_CONTROL_LOOP_INTERVAL_S"]) > 0.1  # Serve's default


def test_the_job_has_no_runtime_env(loopback_ray):
    # A job runtime environment keeps Ray's prestarted workers from hosting actors.
    assert ray.get_runtime_context().runtime_env == {}


def test_the_driver_node_is_on_loopback(loopback_ray):
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    nodes = ray.nodes()
    assert [node["NodeManagerAddress"] for node in nodes] == ["127.0.0.1"]


def test_workers_see_the_loopback_node(loopback_ray):
    node_ip_of_worker = ray.remote(num_cpus=0)(ray.util.get_node_ip_address)
    assert ray.get(node_ip_of_worker.remote(), timeout=60) == "127.0.0.1"


def test_workers_do_not_run_the_serve_hook(loopback_ray):
    # The hook (and the Ray Serve import it needs) is for Serve replicas only.
    @ray.remote(num_cpus=0)
    def serve_imported() -> bool:
        return "ray.serve._private.replica" in sys.modules

    assert ray.get(serve_imported.remote(), timeout=60) is False


def test_object_store_is_sized_from_the_settings(loopback_ray):
    expected = loopback_ray.cluster.object_store_memory_mb * 1024 * 1024
    assert ray.available_resources()["object_store_memory"] == pytest.approx(expected, rel=0.05)
