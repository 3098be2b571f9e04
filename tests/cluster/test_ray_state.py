"""cluster/ray_state: joining a cluster that is not there fails fast, in one sentence.

Reading a live cluster's nodes and actors (restart counts included) is proven against a
running `mairust up` by tests/integration/test_e2e_fuzz_restarts.py.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import socket
import time

import pytest
import ray

from cluster.ray_state import ClusterNotRunning, connected_driver


def test_nothing_listening_is_not_running_and_ray_is_not_started() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        began = time.monotonic()
        refused = pytest.raises(
            ClusterNotRunning, match=f"no Ray cluster answers at 127.0.0.1:{port}"
        )
        with refused, connected_driver(f"127.0.0.1:{port}"):
            pass
    assert time.monotonic() - began < 5
    assert not ray.is_initialized()
