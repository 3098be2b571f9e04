"""The API benchmark's yardsticks: trivial Ray Serve applications, deployed from the
benchmark into the Ray cluster of a running ``mairust up``, beside its API.

Two of them answer ``{"hello": "world"}``: a bare Serve deployment (Serve hands it a
request, it returns a dict), and a FastAPI app behind ``@serve.ingress`` with that one
route, which is how the API is deployed. The second shows what Serve's ASGI path and
FastAPI cost a request before any of MaiRust's own work.

It is no feature of the platform: the benchmark joins the Ray cluster that ``mairust up``
started (found by its GCS port among the processes of that session), ``serve.run``\\ s a
second application under its own route prefix on the same Serve controller and HTTP proxy,
and deletes it before the platform stops. Each one replica is deployed like the API's (no
CPU reserved, the same ``max_ongoing_requests``, its gRPC server kept on 127.0.0.1), so the
difference between the FastAPI hello and the API is MaiRust's own work: its middleware,
auth, the stores.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from load.joined_ray import Yardstick, yardstick_apps

log = logging.getLogger("load.bench_api")

ROUTE_PREFIX = "/bench-hello"
FASTAPI_ROUTE_PREFIX = "/bench-hello-fastapi"


@dataclass(frozen=True)
class HelloPaths:
    """Where each hello answers, on the platform's Serve HTTP proxy."""

    bare: str = ROUTE_PREFIX
    # The app's one route is "/" under the prefix: without the slash FastAPI would answer
    # every request with a redirect to it.
    fastapi: str = FASTAPI_ROUTE_PREFIX + "/"


class Hello:
    """Answers every request with ``{"hello": "world"}``."""

    def __init__(self) -> None:
        from cluster.loopback import bind_serve_grpc_to_node_ip

        bind_serve_grpc_to_node_ip()

    async def __call__(self, request: Any) -> dict[str, str]:
        return {"hello": "world"}


def fastapi_hello() -> type:
    """A FastAPI app with one route answering ``{"hello": "world"}``, as a Serve ingress
    class (built once this process has joined Ray: it imports Ray Serve)."""
    from fastapi import FastAPI
    from ray import serve

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @serve.ingress(app)
    class FastApiHello:
        def __init__(self) -> None:
            from cluster.loopback import bind_serve_grpc_to_node_ip

            bind_serve_grpc_to_node_ip()

    return FastApiHello


@contextlib.contextmanager
def hello_beside(mairust_pid: int) -> Iterator[HelloPaths]:
    """Join the Ray cluster of the ``mairust up`` whose session leader is ``mairust_pid``,
    run both hello applications on its Serve, yield their paths; delete them and leave Ray
    after."""
    apps = [
        Yardstick(lambda: Hello, "hello", ROUTE_PREFIX),
        Yardstick(fastapi_hello, "hello-fastapi", FASTAPI_ROUTE_PREFIX),
    ]
    with yardstick_apps(mairust_pid, apps):
        yield HelloPaths()
