"""Scenario: a crash soak of `mairust cluster up` on a head and two SMTP nodes (loopback).

Two bounded loads (unique tokens and Message-IDs, two recipients each) send to both nodes'
front-ends while chaos threads kill -9 a pipeline worker's process every few seconds,
kill -9s one front-end's process once (Ray starts it again, its listener comes back) and
removes one whole SMTP node once (its raylet and every process on it killed: its
front-end is gone for good and the load goes on through the other node). Transactions
open on the removed node never got their 250: they count as uncertain (end of DATA sent:
stored for every recipient or for none) or unsent (never stored).

Afterwards the queue drains and the metadata store is read with SQL, without dedupe:
exactly one mailbox entry per acknowledged (message, recipient), none for a message never
sent in full, all-or-nothing for a message whose 250 was lost ("committed but not
acknowledged" is allowed and counted). Every count is printed.

CI size: ``SOAK_SECONDS`` (default 12) of load. The full size (docs/scale-out/soak.md):
``python -m tests.integration.test_e2e_crash_soak --minutes 10``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from ray.cluster_utils import Cluster

from mairust.config import Settings
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_schema import entries
from tests.support import ray_nodes as nodes
from tests.support.delivery_audit import audit, outcome_counts, queue_counts, server_settings
from tests.support.mail_load import Attempt, MailLoad, wait_until_listening
from tests.support.mairust_server import process_title, wait_for
from tests.support.process_tree import ProcessTree
from tests.support.ray_nodes import Deployment

RECIPIENTS = ("alice@example.test", "bob@example.test")
# Seconds of load; CI runs the small size, `python -m` this module the full one.
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "12"))
KILL_EVERY = float(os.environ.get("SOAK_KILL_EVERY", "3"))
# Short leases and retries: a batch lost with its worker is leased again within seconds.
FAST_QUEUE = "[queue]\npoll_interval = 0.5\nretry_base_seconds = 1.0\nlease_seconds = 10.0\n"
RESTART_BOUND = 60.0
# Ray declares a node that vanished dead after this many missed health checks, one a
# second (its default: one each 3 s, 5 missed): a batch sent to a worker on the removed node
# comes back, and that worker restarts elsewhere, only then.
HEALTH_CHECKS = {"health_check_period_ms": 1000, "health_check_failure_threshold": 5}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[Cluster, dict[str, int]]]:
    with nodes.ray_cluster(smtp_nodes=2, system_config=HEALTH_CHECKS) as running:
        yield running


@pytest.fixture(scope="module")
def deployment(ray_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    cluster, _ = ray_cluster
    base = tmp_path_factory.mktemp("soak")
    with nodes.cluster_up(cluster, base, RECIPIENTS, FAST_QUEUE) as running:
        yield running


def actor_pids(tree: ProcessTree, actor_class: str) -> list[int]:
    """Our cluster's processes hosting an actor of ``actor_class`` (Ray's process titles)."""
    return [
        pid
        for pid in tree.pids()
        if (title := process_title(pid)) == f"ray::{actor_class}"
        or title.startswith(f"ray::{actor_class}.")
    ]


def frontend_pid(deployment: Deployment, node_id: str) -> int:
    """The pid of the front-end actor on ``node_id``, as `mairust cluster status` says."""
    status = deployment.cli("cluster", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    (pid,) = [
        actor["pid"]
        for actor in report["actors"]
        if actor["class_name"] == "FrontEndHost"
        and actor["node_id"] == node_id
        and actor["state"] == "ALIVE"
    ]
    return int(pid)


@dataclass
class Chaos:
    """Three chaos threads and what they did, when (seconds since the load began): worker
    kills every ``KILL_EVERY`` seconds; the node removal at 25 % of the soak (early: Ray
    takes seconds to declare a node that vanished dead, and a batch sent to a worker there
    comes back only then); the front-end kill at 40 % (each on its own clock)."""

    cluster: Cluster
    tree: ProcessTree
    began: float
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    worker_kills: list[tuple[float, int]] = field(default_factory=list)
    # Ticks that found no worker's process alive (Ray still restarting them).
    no_worker_at: list[float] = field(default_factory=list)
    frontend_kill: tuple[float, int] | None = None
    frontend_back_after: float | None = None
    node_removed_at: float | None = None
    errors: list[str] = field(default_factory=list)

    def start(self, frontend: tuple[int, int], removed_node: str) -> None:
        for target, args in (
            (self._kill_workers, ()),
            (self._kill_frontend, frontend),
            (self._remove_node, (removed_node,)),
        ):
            thread = threading.Thread(target=self._guarded, args=(target, *args), daemon=True)
            self.threads.append(thread)
            thread.start()

    def end(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(RESTART_BOUND + 30)

    def now(self) -> float:
        return round(time.monotonic() - self.began, 1)

    def _guarded(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except (OSError, AssertionError, ValueError) as error:
            self.errors.append(f"{self.now()}: {target.__name__}: {error!r}")

    def _kill_workers(self) -> None:
        while not self.stop.wait(KILL_EVERY):
            workers = actor_pids(self.tree, "PipelineWorker")
            # Prefer a worker in the middle of a batch (Ray titles it while it runs one).
            busy = [p for p in workers if process_title(p).startswith("ray::PipelineWorker.")]
            if busy or workers:  # none while Ray restarts both: the next tick
                victim = random.choice(busy or workers)
                os.kill(victim, signal.SIGKILL)
                self.worker_kills.append((self.now(), victim))
            else:
                self.no_worker_at.append(self.now())

    def _kill_frontend(self, pid: int, port: int) -> None:
        if self.stop.wait(SOAK_SECONDS * 0.4):
            return
        assert pid in self.tree.pids(), f"{pid} is not a process of this cluster"
        os.kill(pid, signal.SIGKILL)
        self.frontend_kill = (self.now(), pid)
        self.frontend_back_after = round(wait_until_listening(port, timeout=RESTART_BOUND), 1)

    def _remove_node(self, node_id: str) -> None:
        if self.stop.wait(SOAK_SECONDS * 0.25):
            return
        (node,) = [n for n in self.cluster.worker_nodes if n.node_id == node_id]
        self.cluster.remove_node(node, allow_graceful=False)  # its raylet and workers kill -9ed
        self.node_removed_at = self.now()


def test_crash_soak(ray_cluster, deployment: Deployment) -> None:
    cluster, label_ports = ray_cluster
    (removed, port_a), (kept, port_b) = sorted(label_ports.items())
    tree = ProcessTree(os.getpid())
    wait_for(
        lambda: len(actor_pids(tree, "PipelineWorker")) == 2,
        timeout=RESTART_BOUND,
        what="both pipeline workers' processes",
    )
    kept_frontend = frontend_pid(deployment, kept)
    loads = {
        "removed node": MailLoad(port_a, RECIPIENTS, sessions=2, per_session=10**6),
        "kept node": MailLoad(port_b, RECIPIENTS, sessions=2, per_session=10**6),
    }
    began = time.monotonic()
    for load in loads.values():
        load.start()
    chaos = Chaos(cluster, tree, began)
    chaos.start((kept_frontend, port_b), removed)
    time.sleep(SOAK_SECONDS)
    chaos.end()  # the front-end listens again by now

    def acknowledged_after_both() -> list[Attempt]:
        """The kept node's 250s after the removal and its front-end's restart."""
        assert chaos.frontend_kill is not None and chaos.node_removed_at is not None
        back = chaos.frontend_kill[0] + (chaos.frontend_back_after or 0)
        after = began + max(chaos.node_removed_at, back)
        return [a for a in loads["kept node"].acknowledged if (a.replied_at or 0) > after]

    if not chaos.errors:  # a slow restart at the very end: the load goes on a little
        wait_for(acknowledged_after_both, timeout=30, what="a 250 after both events")
    for load in loads.values():
        load.stop()
    print(
        f"\nchaos: {len(chaos.worker_kills)} worker kills (s, pid: first ten) "
        f"{chaos.worker_kills[:10]}; {len(chaos.no_worker_at)} ticks found no worker alive; "
        f"front-end kill {chaos.frontend_kill}, listening again after "
        f"{chaos.frontend_back_after} s; node removed at {chaos.node_removed_at} s; "
        f"errors {chaos.errors}"
    )
    assert chaos.errors == [], chaos.errors
    assert chaos.frontend_kill is not None and chaos.node_removed_at is not None

    settings = server_settings(deployment.data_dir, deployment.config)
    load_ended = time.monotonic()

    def drained() -> bool:
        counts = queue_counts(settings)
        return sum(counts.values()) == counts["done"] > 0

    wait_for(drained, timeout=180, interval=0.5, what="every queue row done")
    waited = time.monotonic() - load_ended
    print(f"queue drained {waited:.1f} s after the load: {dict(queue_counts(settings))}")
    # Every pool is whole again on live nodes: a member pinned to the removed node could not
    # restart elsewhere; the pool scaler replaced it.
    pools = wait_for(lambda: pools_whole_without(deployment, removed), timeout=60, what="pools")
    print(f"pools after the removal: {pools}")

    for name, load in loads.items():
        attempts = load.snapshot()
        prefix = f"tok{load.run_id}"
        problems = audit(attempts, settings, prefix)
        outcomes = outcome_counts(attempts, settings, prefix)
        replies = Counter(a.code for a in attempts if a.phase == "replied")
        rows = stored_entry_rows(settings, prefix)
        print(
            f"{name}: {len(attempts)} attempts, replies {dict(replies)}, outcomes "
            f"{dict(outcomes)}, connection failures {load.connect_failures}, "
            f"mailbox entries {rows} (acknowledged x {len(RECIPIENTS)} = "
            f"{outcomes['acknowledged'] * len(RECIPIENTS)}, committed but not acknowledged "
            f"x {len(RECIPIENTS)} = {outcomes['uncertain, stored'] * len(RECIPIENTS)})"
        )
        assert problems == [], "\n".join(problems[:40])
        # The raw row count agrees: nothing stored beyond what the senders explain.
        assert rows == len(RECIPIENTS) * (outcomes["acknowledged"] + outcomes["uncertain, stored"])
    # Both nodes acknowledged mail, and the load went on through the kept node's restarted
    # front-end after the other node was gone.
    assert loads["removed node"].acknowledged
    late = acknowledged_after_both()
    print(f"kept node: {len(late)} acknowledged after the removal and the front-end's restart")
    assert late


def pools_whole_without(deployment: Deployment, removed: str) -> dict[str, list[str]] | None:
    """Each pool's members' nodes once every pool has its size on live nodes other than the
    ``removed`` one (a prefix of its id); None until then."""
    status = deployment.cli("cluster", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    live = {node["node_id"] for node in report["nodes"] if node["alive"]}
    where = {pool["name"]: list(pool["members"].values()) for pool in report["pools"]}
    whole = all(
        len(nodes) == pool["size"] >= pool["minimum"]
        and all(node in live and not node.startswith(removed) for node in nodes)
        for pool, nodes in zip(report["pools"], where.values(), strict=True)
    )
    return where if whole and "pipeline" in where else None


def stored_entry_rows(settings: Settings, prefix: str) -> int:
    """Mailbox entries whose subject names a token of ``prefix``: rows, not distinct."""
    engine = create_sql_engine(settings.storage.metadata)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).where(entries.c.subject.like(f"% {prefix}%"))
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def main() -> int:
    """The full-size soak: ``python -m tests.integration.test_e2e_crash_soak``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of load")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    args = parser.parse_args()
    os.environ["SOAK_SECONDS"] = str(args.minutes * 60)
    os.environ["SOAK_KILL_EVERY"] = str(args.kill_every)
    return int(pytest.main(["-p", "no:cacheprovider", "-s", "-q", __file__]))


if __name__ == "__main__":
    sys.exit(main())
