"""A Ray cluster of a head and SMTP nodes on 127.0.0.1 in this process
(``ray.cluster_utils.Cluster``): what the scale benchmark and the multi-node tests start
`mairust cluster up` on. Each SMTP node carries the ``smtp`` resource and names its SMTP and
submission ports in its labels, as an operator's nodes would."""

from __future__ import annotations

import os
from typing import Any

from cluster.placement import SMTP_PORT_LABEL, SMTP_RESOURCE, SUBMISSION_PORT_LABEL
from load.targets import free_loopback_port

# Ray's per-node object store: the smallest it takes (bodies never travel through it).
OBJECT_STORE = 80 * 1024 * 1024


def start_head(temp_dir: str, system_config: dict[str, int] | None = None) -> Any:
    """A head node (2 CPUs, no dashboard) whose session files live in ``temp_dir``, which
    must be short: Ray's Unix sockets live under it and a socket path has at most 107
    characters. ``system_config`` is Ray's own ``_system_config``."""
    from ray._common.utils import get_default_ray_temp_dir
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster  # here: a --help must not wait for Ray's import

    if ray_constants.ENABLE_RAY_CLUSTER:
        # Ray read the variable when it was first imported, before `cluster` set it: its
        # nodes would bind to the machine's network address, and a driver on 127.0.0.1
        # would then wait for them for minutes.
        raise RuntimeError(
            "Ray was imported before RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 was set: "
            "import `cluster` (or `load.loopback_ray`) before `ray`"
        )
    # Cluster writes the head's address to Ray's default temp dir whatever ``temp_dir``
    # says, and fails on a machine where no Ray has run yet, which has no such directory.
    os.makedirs(get_default_ray_temp_dir(), exist_ok=True)  # type: ignore[no-untyped-call]
    return Cluster(
        initialize_head=True,
        head_node_args={
            "node_ip_address": "127.0.0.1",
            "object_store_memory": OBJECT_STORE,
            "num_cpus": 2,
            "include_dashboard": False,
            "temp_dir": temp_dir,
            **({"_system_config": system_config} if system_config else {}),
        },
    )


def add_smtp_node(cluster: Any) -> tuple[str, int]:
    """A worker node with the ``smtp`` resource and ports of its own; its id and SMTP port."""
    smtp_port = free_loopback_port()
    node = cluster.add_node(
        node_ip_address="127.0.0.1",
        object_store_memory=OBJECT_STORE,
        num_cpus=1,
        resources={SMTP_RESOURCE: 1},
        labels={SMTP_PORT_LABEL: str(smtp_port), SUBMISSION_PORT_LABEL: str(free_loopback_port())},
    )
    return str(node.node_id), smtp_port
