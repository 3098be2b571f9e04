"""Scenario: `mairust cluster up` on a Ray cluster of a head and two SMTP nodes on loopback;
mail through both nodes' front-ends lands in the mailbox; `mairust cluster drain` of one
node lets its open transaction finish, refuses new connections there, the other node
keeps accepting; an SMTP node that joins later gets a front-end; every acknowledged message
is stored exactly once."""

from __future__ import annotations

import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster

from cluster.placement import SMTP_PORT_LABEL, SMTP_RESOURCE, SUBMISSION_PORT_LABEL
from tests.support.delivery_audit import Stored, queue_counts, server_settings
from tests.support.mairust_server import ADMIN_TOKEN, MAIRUST, free_port, wait_for
from tests.support.process_tree import ProcessTree

MAILBOX = "alice@example.test"
READY_LINE = "MaiRust is up on the Ray cluster"
WORKERS_LINE = re.compile(r"Pipeline\s+2 workers on (\d) nodes")
NODE_LINE = re.compile(r"SMTP node\s+(\w+) \(127\.0\.0\.1\): smtp 127\.0\.0\.1:(\d+)")
# Ray's per-node object store: the smallest it takes (bodies never travel through it).
OBJECT_STORE = 80 * 1024 * 1024


@dataclass
class Deployment:
    address: str
    data_dir: Path
    config: Path
    proc: subprocess.Popen[str]
    tree: ProcessTree
    output: list[str] = field(default_factory=list)

    @property
    def smtp_ports(self) -> dict[str, int]:
        """Node id prefix -> SMTP port, as `mairust cluster up` printed them so far."""
        return {
            match.group(1): int(match.group(2))
            for line in list(self.output)
            if (match := NODE_LINE.search(line))
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MAIRUST, *args, "--data-dir", str(self.data_dir), "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[Cluster, dict[str, int]]]:
    """A head and two worker nodes with the ``smtp`` resource, all on 127.0.0.1, each SMTP
    node's ports in its labels; Ray's session files in a directory of the test's own."""
    # Short: Ray's Unix sockets live under it (a socket path has at most 107 characters).
    temp = tempfile.mkdtemp(prefix="mr-mn-", dir="/tmp")
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "node_ip_address": "127.0.0.1",
            "object_store_memory": OBJECT_STORE,
            "num_cpus": 2,
            "include_dashboard": False,
            "temp_dir": temp,
        },
    )
    try:
        yield cluster, dict(add_smtp_node(cluster) for _ in range(2))
    finally:
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def add_smtp_node(cluster: Cluster) -> tuple[str, int]:
    """A worker node with the ``smtp`` resource and ports of its own; its id and SMTP port."""
    smtp_port, submission_port = free_port(), free_port()
    node = cluster.add_node(
        node_ip_address="127.0.0.1",
        object_store_memory=OBJECT_STORE,
        num_cpus=1,
        resources={SMTP_RESOURCE: 1},
        labels={SMTP_PORT_LABEL: str(smtp_port), SUBMISSION_PORT_LABEL: str(submission_port)},
    )
    return node.node_id, smtp_port


@pytest.fixture(scope="module")
def deployment(ray_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    cluster, _ = ray_cluster
    base = tmp_path_factory.mktemp("multinode")
    config = base / "mairust.toml"
    # The embedded stores serve every node here: they all run on this machine. Nothing
    # is sent off the platform, so DNS asks a loopback port where nothing answers.
    config.write_text(
        f"[smtp]\nport = {free_port()}\nsubmission_port = {free_port()}\n"
        f"[api]\nport = {free_port()}\n"
        f'[dns]\nnameservers = ["127.0.0.1"]\nport = {free_port()}\ntimeout = 0.5\n'
        "[cluster]\npipeline_workers = 2\n"
    )
    data_dir = base / "data"
    args = ["cluster", "up", "--address", cluster.address, "--domain", "example.test"]
    proc = subprocess.Popen(
        [MAIRUST, *args, "--data-dir", str(data_dir), "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MAIRUST_ADMIN_TOKEN": ADMIN_TOKEN},
        start_new_session=True,
    )
    running = Deployment(cluster.address, data_dir, config, proc, ProcessTree(proc.pid))
    ready = threading.Event()

    def read_output() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            running.output.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()

    threading.Thread(target=read_output, daemon=True).start()
    try:
        assert ready.wait(180) and proc.poll() is None, "".join(running.output[-60:])
        added = running.cli("user", "add", MAILBOX)
        assert added.returncode == 0, added.stdout + added.stderr
        yield running
        proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0, "".join(running.output[-60:])
    finally:
        if proc.poll() is None:
            running.tree.kill9()
            proc.wait(30)


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
