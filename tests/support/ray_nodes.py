"""A Ray cluster of a head and SMTP worker nodes on loopback (``ray.cluster_utils.Cluster``)
with `mairust cluster up` running on it as a subprocess: the set-up the multi-node
scenarios share (tests/integration/test_e2e_multi_node.py, test_e2e_crash_soak.py)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ray.cluster_utils import Cluster

from load.cluster_up_output import follow_output
from load.loopback_ray import add_smtp_node, start_head
from tests.support.mairust_server import ADMIN_TOKEN, MAIRUST, free_port
from tests.support.process_tree import ProcessTree

NODE_LINE = re.compile(r"SMTP node\s+(\w+) \(127\.0\.0\.1\): smtp 127\.0\.0\.1:(\d+)")


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


@contextlib.contextmanager
def ray_cluster(
    smtp_nodes: int = 2, system_config: dict[str, int] | None = None
) -> Iterator[tuple[Cluster, dict[str, int]]]:
    """A head and ``smtp_nodes`` worker nodes with the ``smtp`` resource, all on 127.0.0.1,
    each SMTP node's ports in its labels; Ray's session files in a directory of its own;
    ``system_config`` is Ray's own (``_system_config``). Yields the cluster and each SMTP
    node's id -> SMTP port."""
    # Short: Ray's Unix sockets live under it (a socket path has at most 107 characters).
    temp = tempfile.mkdtemp(prefix="mr-mn-", dir="/tmp")
    cluster = start_head(temp, system_config)
    try:
        yield cluster, dict(add_smtp_node(cluster) for _ in range(smtp_nodes))
    finally:
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def cluster_up(
    cluster: Cluster,
    base: Path,
    users: tuple[str, ...],
    extra_config: str = "",
    frontends_per_node: int = 1,
) -> Iterator[Deployment]:
    """`mairust cluster up` on ``cluster`` (its data and config under ``base``) with
    ``users`` added; stopped with SIGINT afterwards, which must end it cleanly."""
    config = base / "mairust.toml"
    # The embedded stores serve every node here: they all run on this machine. Nothing
    # is sent off the platform, so DNS asks a loopback port where nothing answers.
    config.write_text(
        f"[smtp]\nport = {free_port()}\nsubmission_port = {free_port()}\n"
        f"frontends_per_node = {frontends_per_node}\n"
        f"[api]\nport = {free_port()}\n"
        f'[dns]\nnameservers = ["127.0.0.1"]\nport = {free_port()}\ntimeout = 0.5\n'
        "[cluster]\npipeline_workers = 2\n" + extra_config
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
    ready = follow_output(proc, running.output)
    try:
        assert ready.wait(180) and proc.poll() is None, "".join(running.output[-60:])
        for user in users:
            added = running.cli("user", "add", user)
            assert added.returncode == 0, added.stdout + added.stderr
        yield running
        proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0, "".join(running.output[-60:])
    finally:
        if proc.poll() is None:
            running.tree.kill9()
            proc.wait(30)
