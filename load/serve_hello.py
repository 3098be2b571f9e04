"""The API benchmark's yardstick: a trivial Ray Serve application, deployed from the
benchmark into the Ray cluster of a running ``mairust up``, beside its API.

It is no feature of the platform: the benchmark joins the Ray cluster that ``mairust up``
started (found by its GCS port among the processes of that session), ``serve.run``\\ s a
second application under its own route prefix on the same Serve controller and HTTP proxy,
and deletes it before the platform stops. Its one replica is deployed like the API's (no
CPU reserved, the same ``max_ongoing_requests``, its gRPC server kept on 127.0.0.1), so the
difference between the two is MaiRust's own work: FastAPI, auth, the stores.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from load.joined_ray import yardstick_app

log = logging.getLogger("load.bench_api")

ROUTE_PREFIX = "/bench-hello"


class Hello:
    """Answers every request with ``{"hello": "world"}``."""

    def __init__(self) -> None:
        from cluster.loopback import bind_serve_grpc_to_node_ip

        bind_serve_grpc_to_node_ip()

    async def __call__(self, request: Any) -> dict[str, str]:
        return {"hello": "world"}


@contextlib.contextmanager
def hello_beside(mairust_pid: int) -> Iterator[str]:
    """Join the Ray cluster of the ``mairust up`` whose session leader is ``mairust_pid``,
    run the hello application on its Serve, yield its path; delete it and leave Ray after."""
    with yardstick_app(mairust_pid, Hello, "hello", ROUTE_PREFIX):
        yield ROUTE_PREFIX
