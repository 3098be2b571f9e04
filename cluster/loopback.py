"""Keep Ray Serve's replica gRPC server on the node's own address, not on every interface.

Ray 2.60's Serve replica binds its inter-deployment gRPC server to ``[::]:0``
(``ray/serve/_private/replica.py``), whatever the node address is. Run in the replica's
process before Serve starts that server (the API deployment's ``replica_setup``, called
first in its constructor; Serve starts the server once the constructor has returned), this
narrows that bind to the node IP (127.0.0.1 in the embedded default), which is where
other deployments dial it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PATCHED = "__mairust_node_ip_bind__"


def bind_serve_grpc_to_node_ip() -> None:
    import ray
    from ray.serve._private import replica

    original: Callable[[Any, str], Any] = getattr(replica, "add_port_to_grpc_server")  # noqa: B009
    if getattr(original, _PATCHED, False):
        return
    node_ip: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]

    def add_port_on_node_ip(server: Any, address: str) -> Any:
        if address.startswith("[::]:"):
            address = f"{node_ip}:{address.removeprefix('[::]:')}"
        return original(server, address)

    setattr(add_port_on_node_ip, _PATCHED, True)
    setattr(replica, "add_port_to_grpc_server", add_port_on_node_ip)  # noqa: B010
