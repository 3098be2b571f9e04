"""load.loopback_ray: a head and an SMTP node on 127.0.0.1, also on a machine where no Ray
has run yet (Ray's default temp dir missing)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from cluster.placement import SMTP_PORT_LABEL, SMTP_RESOURCE
from load.loopback_ray import add_smtp_node, start_head


def test_a_head_and_an_smtp_node_where_no_ray_ran_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ray's default temp dir is $RAY_TMPDIR/ray: here it does not exist yet.
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "system-temp"))
    (tmp_path / "system-temp").mkdir()
    session = tempfile.mkdtemp(prefix="mr-lr-", dir="/tmp")  # short: Ray's Unix sockets
    cluster = start_head(session)
    try:
        node_id, smtp_port = add_smtp_node(cluster)
        (tmp_path / "system-temp" / "ray" / "ray_current_cluster").read_text()  # written there
        nodes = {node["NodeID"]: node for node in cluster_nodes(cluster.address)}
        assert len(nodes) == 2
        smtp_node = nodes[node_id]
        assert smtp_node["NodeManagerAddress"] == "127.0.0.1"
        assert smtp_node["Resources"][SMTP_RESOURCE] == 1
        assert smtp_node["Labels"][SMTP_PORT_LABEL] == str(smtp_port)
    finally:
        cluster.shutdown()
        shutil.rmtree(session, ignore_errors=True)


def cluster_nodes(address: str) -> list[dict[str, Any]]:
    import ray  # after load.loopback_ray: Ray reads its cluster switch when first imported

    ray.init(address=address, namespace="loopback-ray-test", log_to_driver=False)
    try:
        return [node for node in ray.nodes() if node["Alive"]]
    finally:
        ray.shutdown()
