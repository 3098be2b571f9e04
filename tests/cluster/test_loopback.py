"""cluster/loopback: Serve replicas bind their gRPC server to the node IP, never to ``[::]``.

The socket check reads /proc like tests/integration/test_e2e_loopback.py does, for the Ray
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
from cluster.ray_runtime import RUNTIME_ENV
from mairust.config import Settings
from serve.api_ingress import build_api_app

pytestmark = [pytest.mark.xdist_group("e2e")]

# What the hook replaces in Ray Serve's replica module.
BIND_FUNCTION = "add_port_to_grpc_server"

LOOPBACK_PREFIXES = (
    "127.",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "0000:0000:0000:0000:0000:ffff:7f",
)


def listening_sockets() -> dict[str, str]:
    """inode -> local address ("ip:port") of every listening TCP socket on the machine."""
    found = {}
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            address, port = fields[1].split(":")
            found[fields[9]] = f"{decode(address, family)}:{int(port, 16)}"
    return found


def decode(hex_address: str, family: int) -> str:
    raw = bytes.fromhex(hex_address)
    if family == 4:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    return ":".join(b"".join(words).hex()[i : i + 4] for i in range(0, 32, 4))


def session_pids(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass  # the process ended meanwhile
    return inodes


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def listening_by_pid() -> dict[int, list[str]]:
    """pid -> listening addresses, for every process of this test session."""
    sockets = listening_sockets()
    ours: dict[int, list[str]] = {}
    for pid in session_pids(os.getsid(0)):
        addresses = [sockets[inode] for inode in socket_inodes(pid) if inode in sockets]
        if addresses:
            ours[pid] = addresses
    return ours


@pytest.fixture(scope="module")
def api_on_serve(loopback_ray: Settings) -> Iterator[Settings]:
    settings = loopback_ray
    try:
        serve.start(http_options={"host": settings.api.host, "port": settings.api.port})
        serve.run(build_api_app(settings, RUNTIME_ENV), name="api", route_prefix="/")
        yield settings
    finally:
        serve.shutdown()


def test_every_ray_socket_of_the_session_is_on_loopback(api_on_serve: Settings) -> None:
    port = api_on_serve.api.port
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200

    ours = listening_by_pid()
    every = [address for addresses in ours.values() for address in addresses]
    # The probe sees the processes that matter: Ray's GCS, Serve's proxy and the replica.
    gcs_port = ray.get_runtime_context().gcs_address.rsplit(":", 1)[1]
    assert any(address.endswith(f":{gcs_port}") for address in every)
    assert any(address.endswith(f":{port}") for address in every)
    replicas = [pid for pid in ours if "ServeReplica:api" in command_line(pid)]
    assert replicas, "the API replica has no listening socket (its gRPC server)"
    outside = [address for address in every if not address.startswith(LOOPBACK_PREFIXES)]
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
