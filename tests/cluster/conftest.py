"""Fixtures for the composition-root tests: a loopback Ray per module, as `mairust up` starts it.

``cluster`` is imported before ``ray``: it sets the environment Ray reads at import time.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from cluster.ray_runtime import start_ray
from mairust.config import Settings
from mairust.storage.factory import migrate, open_stores


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def cluster_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over migrated, already created stores; the API on a free loopback port."""
    data_dir: Path = tmp_path_factory.mktemp("cluster") / "data"
    settings = Settings(data_dir=data_dir, api={"port": free_port(), "admin_token": "t0ken"})
    migrate(settings.storage)
    open_stores(settings.storage).close()  # created here, so replicas never race to create them
    return settings


@pytest.fixture(scope="module")
def loopback_ray(cluster_settings: Settings) -> Iterator[Settings]:
    """Ray started by ``start_ray`` for the whole module, shut down at its end."""
    assert not ray.is_initialized(), "another test left Ray running"
    start_ray(cluster_settings)
    try:
        yield cluster_settings
    finally:
        ray.shutdown()
