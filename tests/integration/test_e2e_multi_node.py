"""Scenario: `mairust cluster up` on a Ray cluster of a head and two SMTP nodes on loopback;
mail through both nodes' front-ends lands in the mailbox; `mairust cluster drain` of one
node moves its pool members (pipeline workers, auth checkers, delivery workers) to other
nodes, lets its open transaction finish, refuses new connections there, the other node
keeps accepting; an SMTP node that joins later gets a front-end; every acknowledged message
is stored exactly once."""

from __future__ import annotations

import json
import re
import smtplib
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from ray.cluster_utils import Cluster

from cluster.placement import FRONTEND_PREFIX
from load.loopback_ray import add_smtp_node
from tests.support import ray_nodes as nodes
from tests.support.delivery_audit import Stored, queue_counts, server_settings
from tests.support.mairust_server import MAIRUST, wait_for
from tests.support.ray_nodes import Deployment

MAILBOX = "alice@example.test"
WORKERS_LINE = re.compile(r"Pipeline\s+2 workers on (\d) nodes")
MOVED_LINE = re.compile(r"^Moved\s+(\w+): (\S+) -> (\S+) on node (\w+)", re.MULTILINE)
POOL_CLASSES = {"PipelineWorker", "AuthCheckerHost", "DeliveryHost"}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[Cluster, dict[str, int]]]:
    with nodes.ray_cluster(smtp_nodes=2) as running:
        yield running


@pytest.fixture(scope="module")
def deployment(ray_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    cluster, _ = ray_cluster
    # Two front-end processes per SMTP node, on the node's ports (SO_REUSEPORT): the drain
    # below must close both before the node's port refuses.
    with nodes.cluster_up(
        cluster, tmp_path_factory.mktemp("multinode"), (MAILBOX,), frontends_per_node=2
    ) as running:
        yield running


def test_mail_through_two_nodes_and_a_drain(ray_cluster, deployment: Deployment) -> None:
    _, label_ports = ray_cluster
    # One front-end per SMTP node, on the port its labels name.
    assert {node_id[:12]: port for node_id, port in label_ports.items()} == deployment.smtp_ports, (
        "".join(deployment.output)
    )
    # The two pipeline workers are dealt out over two of the three nodes, not packed on one.
    printed = "".join(deployment.output)
    assert WORKERS_LINE.findall(printed) == ["2"], printed
    (draining, port_a), (_, port_b) = sorted(deployment.smtp_ports.items())
    acknowledged = [send(port_a, "a0"), send(port_b, "b0"), send(port_a, "a1"), send(port_b, "b1")]
    pools_before = status_json(deployment)["pools"]
    on_drained = members_on(pools_before, draining)

    # A transaction open on the node to be drained, and an idle session there.
    busy = OpenTransaction(port_a, "a-during-drain")
    idle = socket.create_connection(("127.0.0.1", port_a), timeout=30)
    assert idle.recv(512).startswith(b"220")
    drain = subprocess.Popen(
        [
            MAIRUST, "cluster", "drain", draining, "--grace", "30", "--address",
            deployment.address, "--data-dir", str(deployment.data_dir),
            "--config", str(deployment.config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: refused(port_a), timeout=60, what="the drained node to stop accepting")
        # The other node keeps accepting while the drain waits for the open transaction.
        acknowledged.append(send(port_b, "b-during-drain"))
        assert drain.poll() is None, "the drain ended before the open transaction did"
        acknowledged.append(busy.finish())
        drained, _ = drain.communicate(timeout=90)
    finally:
        if drain.poll() is None:
            drain.kill()
    assert drain.returncode == 0, drained
    assert f"Node {draining} is idle" in drained, drained
    # The pool members that ran there were replaced elsewhere, each move said; none is left.
    moved = MOVED_LINE.findall(drained)
    assert sorted(left for _, left, _, _ in moved) == sorted(on_drained), drained
    assert all(not node.startswith(draining[:8]) for _, _, _, node in moved), drained
    if not on_drained:
        assert "Moved       nothing" in drained, drained
    after = status_json(deployment)
    assert members_on(after["pools"], draining) == []
    assert [
        actor["name"]
        for actor in after["actors"]
        if actor["class_name"] in POOL_CLASSES
        and actor["node_id"].startswith(draining)
        and actor["state"] != "DEAD"
    ] == []
    # The pools kept their sizes.
    sizes = {pool["name"]: pool["size"] for pool in pools_before}
    assert {pool["name"]: pool["size"] for pool in after["pools"]} == sizes
    # The idle session was told why it was closed (RFC 5321 §3.8).
    got = idle.recv(512)
    assert got.startswith(b"421"), "".join(deployment.output[-200:]) + drained
    idle.close()
    assert refused(port_a)
    acknowledged.append(send(port_b, "b-after-drain"))

    # A third SMTP node joins the running cluster: it gets a front-end of its own.
    cluster, _ = ray_cluster
    joined, port_c = add_smtp_node(cluster)
    wait_for(
        lambda: deployment.smtp_ports.get(joined[:12]) == port_c,
        timeout=60,
        what="a front-end on the node that joined",
    )
    acknowledged.append(send(port_c, "c-joined"))
    # Each of the three SMTP nodes runs its group of two front-ends.
    status = deployment.cli("cluster", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    frontends = [
        actor["name"]
        for actor in json.loads(status.stdout)["actors"]
        if actor["name"].startswith(FRONTEND_PREFIX) and actor["state"] == "ALIVE"
    ]
    assert len(frontends) == 6 and len({name.removesuffix("-2") for name in frontends}) == 3, (
        frontends
    )

    settings = server_settings(deployment.data_dir, deployment.config)

    def delivered() -> Stored | None:
        stored = Stored.read(settings, "mn-")
        return stored if len(stored.entries) >= len(acknowledged) else None

    stored = wait_for(delivered, timeout=60, what="every acknowledged message in the mailbox")
    # Exactly one mailbox entry per acknowledged message, none of another.
    assert sorted(stored.entries) == sorted(acknowledged)
    assert all(len(held) == 1 and held[0][0] == MAILBOX for held in stored.entries.values())
    wait_for(
        lambda: not {"queued", "leased"} & set(+queue_counts(settings)),
        timeout=30,
        what="the queue to drain",
    )


def status_json(deployment: Deployment) -> dict[str, Any]:
    status = deployment.cli("cluster", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    return json.loads(status.stdout)


def members_on(pools: list[dict[str, Any]], node_prefix: str) -> list[str]:
    """Names of the pool members the registry places on the node ``node_prefix`` names."""
    return sorted(
        name
        for pool in pools
        for name, node in pool["members"].items()
        if node.startswith(node_prefix)
    )


def send(port: int, name: str) -> str:
    """One message to ``MAILBOX`` through ``port``; its token once answered 250."""
    token = f"mn-{name}"
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.sendmail(f"{token}@remote.example", [MAILBOX], _message(token))
    return token


class OpenTransaction:
    """A session stopped in the middle of DATA, finished on demand."""

    def __init__(self, port: int, name: str) -> None:
        self.token = f"mn-{name}"
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.file = self.sock.makefile("rb")
        self._expect(b"220")
        for command, reply in (
            (b"EHLO client.example", b"250 "),
            (f"MAIL FROM:<{self.token}@remote.example>".encode(), b"250"),
            (f"RCPT TO:<{MAILBOX}>".encode(), b"250"),
            (b"DATA", b"354"),
        ):
            self.sock.sendall(command + b"\r\n")
            self._expect(reply)
        self.sock.sendall(_message(self.token).split(b"\r\n\r\n")[0] + b"\r\n")

    def finish(self) -> str:
        self.sock.sendall(b"\r\nsent while its node drained\r\n.\r\n")
        self._expect(b"250")
        self.sock.sendall(b"QUIT\r\n")
        self.sock.close()
        return self.token

    def _expect(self, start: bytes) -> None:
        while True:
            line = self.file.readline()
            assert line.startswith(start[:3]), f"expected {start!r}, got {line!r}"
            if line.startswith(start) or line[3:4] == b" ":
                return


def refused(port: int) -> bool:
    """A new connection is refused, or told 421 and closed."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            return conn.recv(512).startswith(b"421")
    except ConnectionRefusedError:
        return True


def _message(token: str) -> bytes:
    headers = f"Subject: multi-node {token}\r\nMessage-ID: <{token}@remote.example>\r\n"
    return (headers + "\r\nhi\r\n").encode()
