"""Distributed load on a local loopback Ray: generator actors against in-test aiosmtpd sinks that
count what they received. The merged count equals the sum of the parts equals what the sinks
got, every message has its own Message-ID, and a refusing sink's code shows in the merged
reply codes. Also the plan (shares, targets) and the command line's refusals, without Ray."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import ray
from aiosmtpd.controller import Controller
from ray.cluster_utils import Cluster

from load.distributed_load import DistributedPlan, main, parse_targets, run_distributed, shares
from load.distributed_report import ACCEPTED
from load.smtp_load import LoadConfig
from load.targets import free_loopback_port

_MESSAGE_ID = re.compile(rb"^Message-ID: <load\.(\d+)\.([0-9a-f]+)@[^>]+>\r$", re.MULTILINE)


class CountingSink:
    """aiosmtpd handler keeping the Message-ID of every message it accepted; with ``refuse``
    it answers every RCPT with that reply instead."""

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.ids: list[tuple[int, str]] = []
        self.refused = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse is not None:
            self.refused += 1
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        match = _MESSAGE_ID.search(envelope.original_content)
        assert match is not None, "a load message without its Message-ID"
        self.ids.append((int(match.group(1)), match.group(2).decode()))
        return "250 2.0.0 queued"


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[str]:
    """A Ray cluster of two nodes on 127.0.0.1, each with one ``loadgen`` resource; its address.

    ``RAY_TMPDIR`` is private (and short: Ray's socket paths must fit in 107 bytes) because
    the cluster announces its address in the temp dir, where a plain ``ray.init()`` of any
    other process on this machine would find and join it."""
    assert not ray.is_initialized(), "another test left Ray running"
    temp_dir = tempfile.mkdtemp(prefix="rdl")
    saved = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = temp_dir
    node: dict[str, Any] = {
        "num_cpus": 1,
        "node_ip_address": "127.0.0.1",
        "resources": {"loadgen": 1},
    }
    nodes = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        nodes.add_node(**node)
        nodes.wait_for_nodes()
        yield nodes.address
    finally:
        nodes.shutdown()
        if saved is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = saved
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def joined(two_nodes: str) -> Iterator[None]:
    """This process connected to the two-node cluster for one test."""
    ray.init(address=two_nodes, logging_level=logging.WARNING)
    yield
    ray.shutdown()


StartSink = Callable[[CountingSink], int]


@pytest.fixture
def sinks() -> Iterator[StartSink]:
    """``sinks(handler)``: a sink on its own loopback port, its port. In a thread: the driver
    blocks on Ray while the actors send."""
    started: list[Controller] = []

    def start(handler: CountingSink) -> int:
        port = free_loopback_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def test_merged_count_equals_the_parts_and_what_the_sink_got(
    two_nodes: str, sinks: StartSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = CountingSink()
    port = sinks(sink)
    report_file = tmp_path / "report.json"
    status = main(
        [
            f"--ray-address={two_nodes}",
            "--generators=3",
            "--resource=loadgen",  # both nodes carry it: picks nodes, reserves nothing
            f"--target=127.0.0.1:{port}",
            "--messages=300",
            "--sessions=6",
            "--size=1k",
            f"--json={report_file}",
        ]
    )
    out = capsys.readouterr()
    assert status == 0, out.out
    report = json.loads(report_file.read_text())
    parts = report["generators"]
    assert [part["messages"] for part in parts] == [100, 100, 100]
    assert [part["first_message"] for part in parts] == [0, 100, 200]
    assert report["accepted"] == sum(part["accepted"] for part in parts) == 300
    assert len(sink.ids) == 300
    assert report["check"] == []
    assert report["replies"] == {ACCEPTED: 300}
    # One Message-ID each: the run's numbering 0..299 exactly once, one token for the run.
    assert sorted(index for index, _ in sink.ids) == list(range(300))
    assert len({token for _, token in sink.ids}) == 1
    assert "counts check   OK (merged == sum of parts)" in out.out
    assert "accepted       300 of 300 messages (100 + 100 + 100)" in out.out
    assert "3 generators up on 2 node(s)" in out.err  # the progress stream
    assert (
        len({part["node"] for part in parts}) == 2
    )  # round-robin: 0 and 2 on one node, 1 on the other


def test_a_refusing_sinks_codes_show_in_the_merged_reply_codes(
    joined: None, sinks: StartSink
) -> None:
    accepting, refusing = CountingSink(), CountingSink(refuse="550 5.7.1 refused by the sink")
    targets = [("127.0.0.1", sinks(accepting)), ("127.0.0.1", sinks(refusing))]
    lines: list[str] = []
    plan = DistributedPlan(
        config=LoadConfig(messages=41, sessions=4, size=1024),
        targets=targets,
        generators=2,
        resource=("loadgen", 1.0),  # one a node: only the two nodes' one each can hold them
    )
    report = run_distributed(plan, lines.append, interval=0.05)
    # Generator 0 has messages 0..20 to the accepting sink, generator 1 21..40 to the refusing.
    assert report.replies == {ACCEPTED: 21, "550": 20}
    assert report.outcomes == {"accepted": 21, "tempfailed": 0, "rejected": 20, "errors": 0}
    assert sorted(index for index, _ in accepting.ids) == list(range(21))
    assert refusing.ids == [] and refusing.refused == 20
    assert [(p.accepted, p.rejected) for p in report.generators] == [(21, 0), (0, 20)]
    assert report.check() == []
    assert len(report.latencies_ms) == 21
    assert lines[0].startswith("2 generators up on 2 node(s)")
    # Only nodes carrying the resource take generators; none does here.
    with pytest.raises(ValueError, match="no alive Ray node with resource 'absent'"):
        run_distributed(replace(plan, resource=("absent", 1.0)))


def test_shares_split_evenly_in_order() -> None:
    assert shares(10, 3) == [(0, 4), (4, 3), (7, 3)]
    assert shares(3, 3) == [(0, 1), (1, 1), (2, 1)]
    with pytest.raises(ValueError):
        shares(2, 3)


def test_plan_gives_each_generator_its_target_and_sessions() -> None:
    plan = DistributedPlan(
        config=LoadConfig(messages=7, sessions=5),
        targets=[("127.0.0.1", 2525), ("::1", 2526)],
        generators=3,
    )
    parts = [(first, c.host, c.port, c.messages, c.sessions) for first, c in plan.parts()]
    assert parts == [
        (0, "127.0.0.1", 2525, 3, 2),
        (3, "::1", 2526, 2, 2),
        (5, "127.0.0.1", 2525, 2, 1),
    ]


def test_targets_are_parsed_and_only_loopback_is_taken() -> None:
    assert parse_targets("127.0.0.1:25, [::1]:2525") == [("127.0.0.1", 25), ("::1", 2525)]
    for bad in ("192.0.2.1:25", "mail.example.test:25", "127.0.0.1", "127.0.0.1:0", ""):
        with pytest.raises(ValueError):
            parse_targets(bad)


def test_bad_arguments_exit_2_before_ray_is_touched(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["--target=192.0.2.1:25"],
        ["--target=127.0.0.1:25", "--generators=4", "--messages=3"],
        ["--target=127.0.0.1:25", "--resource=:2"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "refusing host" in capsys.readouterr().err
