"""cluster/ray_runtime: the embedded Ray node lives on 127.0.0.1, with the loopback setup hook."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import importlib
import os

import pytest
import ray

from cluster.loopback import bind_serve_grpc_to_node_ip
from cluster.ray_runtime import RUNTIME_ENV, SETUP_HOOK

pytestmark = [pytest.mark.xdist_group("e2e")]


def test_importing_cluster_keeps_ray_on_loopback_and_offline():
    # Ray reads these at import time; without the first it binds the machine's address.
    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"


def test_runtime_env_names_the_loopback_hook():
    module_name, _, function_name = SETUP_HOOK.rpartition(".")
    hook = getattr(importlib.import_module(module_name), function_name)
    assert hook is bind_serve_grpc_to_node_ip
    # (ray.init adds keys to the dict it is given, so only this key is checked.)
    assert RUNTIME_ENV["worker_process_setup_hook"] == SETUP_HOOK


def test_the_driver_node_is_on_loopback(loopback_ray):
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    nodes = ray.nodes()
    assert [node["NodeManagerAddress"] for node in nodes] == ["127.0.0.1"]


def test_workers_see_the_loopback_node(loopback_ray):
    node_ip_of_worker = ray.remote(num_cpus=0)(ray.util.get_node_ip_address)
    assert ray.get(node_ip_of_worker.remote(), timeout=60) == "127.0.0.1"


def test_object_store_is_sized_from_the_settings(loopback_ray):
    expected = loopback_ray.cluster.object_store_memory_mb * 1024 * 1024
    assert ray.available_resources()["object_store_memory"] == pytest.approx(expected, rel=0.05)
