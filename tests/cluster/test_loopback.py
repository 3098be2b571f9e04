"""cluster/loopback: Serve replicas bind their gRPC server to the node IP, never to ``[::]``.

The socket check reads /proc (tests/support/sockets.py) for the Ray
processes this pytest session started: they stay in its session (``os.getsid(0)``).
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import ray
from ray import serve
from ray.serve._private import replica

from cluster.loopback import bind_serve_grpc_to_node_ip
from mairust.config import Settings
from serve.api_ingress import build_api_app
from tests.support.sockets import beyond_loopback, listening_by_pid, session_pids

# What the hook replaces in Ray Serve's replica module.
BIND_FUNCTION = "add_port_to_grpc_server"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def api_on_serve(loopback_ray: Settings) -> Iterator[Settings]:
    settings = loopback_ray
    try:
        serve.start(http_options={"host": settings.api.host, "port": settings.api.port})
        serve.run(build_api_app(settings, bind_serve_grpc_to_node_ip), name="api", route_prefix="/")
        yield settings
    finally:
        serve.shutdown()


def test_every_ray_socket_of_the_session_is_on_loopback(api_on_serve: Settings) -> None:
    port = api_on_serve.api.port
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200

    ours = listening_by_pid(session_pids(os.getsid(0)))
    every = [address for addresses in ours.values() for address in addresses]
    # The probe sees the processes that matter: Ray's GCS, Serve's proxy and the replica.
    gcs_port = ray.get_runtime_context().gcs_address.rsplit(":", 1)[1]
    assert any(address.endswith(f":{gcs_port}") for address in every)
    assert any(address.endswith(f":{port}") for address in every)
    replicas = [pid for pid in ours if "ServeReplica:api" in command_line(pid)]
    assert replicas, "the API replica has no listening socket (its gRPC server)"
    outside = beyond_loopback(every)
    assert outside == [], f"listening beyond loopback: {outside}"


def test_hook_patches_once_and_binds_to_the_node_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, str]] = []

    def original(server: object, address: str) -> int:
        calls.append((server, address))
        return 4321

    monkeypatch.setattr(replica, BIND_FUNCTION, original)
    monkeypatch.setattr(ray.util, "get_node_ip_address", lambda: "10.1.2.3")

    bind_serve_grpc_to_node_ip()
    patched = getattr(replica, BIND_FUNCTION)
    bind_serve_grpc_to_node_ip()

    assert patched is not original
    assert getattr(replica, BIND_FUNCTION) is patched  # the second call changed nothing
    server = object()
    assert patched(server, "[::]:0") == 4321
    assert patched(server, "[::]:7000") == 4321
    assert patched(server, "192.0.2.1:9") == 4321  # an explicit address is left as it is
    assert calls == [(server, "10.1.2.3:0"), (server, "10.1.2.3:7000"), (server, "192.0.2.1:9")]


def test_hook_takes_the_loopback_node_ip_from_ray(
    loopback_ray: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    monkeypatch.setattr(replica, BIND_FUNCTION, lambda _s, a: seen.append(a))

    bind_serve_grpc_to_node_ip()
    getattr(replica, BIND_FUNCTION)(object(), "[::]:0")

    assert seen == ["127.0.0.1:0"]
