"""Behaviour of the reference run's definition: the smtp-source command line, the 5 KiB message
arriving byte for byte through smtp-source, the protocol of a point (runs, settle after each,
latency run at the same sessions), medians and ratios. Real loopback servers; no timings."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from load.postfix_target import CountingSink, counting_sink
from load.reference import (
    MESSAGE_SIZE,
    SMTP_SOURCE,
    ClientRun,
    Endpoint,
    PointResult,
    ReferenceRun,
    Sender,
    Spread,
    measure_point,
    ratio,
    run_smtp_source,
    smtp_source_command,
    smtp_source_file,
    stored_message,
    write_message_file,
)
from load.reference_targets import wait_until
from load.targets import free_loopback_port


class Recorder:
    """Keeps every message's bytes; answers ``reply`` at the end of DATA."""

    def __init__(self, reply: str = "250 2.0.0 kept") -> None:
        self.reply = reply
        self.contents: list[bytes] = []
        self.peers: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.contents.append(envelope.content)
        self.peers.append(session.peer)
        return self.reply


async def serve(handler: Recorder) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()
    port = free_loopback_port()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", port)
    return server, port


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, int]]:
    handler = Recorder()
    server, port = await serve(handler)
    async with server:
        yield handler, port


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[CountingSink]:
    port = free_loopback_port()
    with counting_sink(port, tmp_path) as counting:
        assert counting.process is not None
        wait_for_sync_greeting(port)
        yield counting


def wait_for_sync_greeting(port: int) -> None:
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.makefile("rb").readline().startswith(b"220"):
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing greets on 127.0.0.1:{port}")


def test_the_command_is_smtp_source_with_sessions_messages_and_the_file_and_no_reuse(
    tmp_path: Path,
) -> None:
    command = smtp_source_command(ReferenceRun(), 2525, 20, 3000, tmp_path / "m.txt")
    assert command[0] == SMTP_SOURCE
    assert command[command.index("-s") + 1] == "20"
    assert command[command.index("-m") + 1] == "3000"
    assert command[command.index("-F") + 1] == str(tmp_path / "m.txt")
    assert "-d" not in command, "a new connection per message: smtp-source must not reuse"
    assert "-A" not in command, "a reply that is not 2xx must fail the run"
    assert command[-1] == "127.0.0.1:2525"


def test_the_reference_defaults_are_5_kib_20_sessions_3000_messages_3_repeats() -> None:
    run = ReferenceRun()
    assert (run.size, run.sessions, run.messages, run.repeats) == (5120, (20,), 3000, 3)
    assert len(stored_message(smtp_source_file(run))) == MESSAGE_SIZE


@pytest.mark.parametrize(
    "bad", [{"repeats": 0}, {"messages": 0}, {"sessions": ()}, {"sessions": (5, 0)}]
)
def test_a_run_without_messages_repeats_or_sessions_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ReferenceRun(**bad)


async def test_smtp_source_delivers_the_reference_message_byte_for_byte(
    recorder: tuple[Recorder, int], tmp_path: Path
) -> None:
    handler, port = recorder
    run = ReferenceRun(messages=6)
    file = write_message_file(tmp_path, run)
    assert b"\r" not in file.read_bytes(), "smtp-source adds the CR itself"
    result = await run_smtp_source(smtp_source_command(run, port, 3, 6, file), 6, deadline=60)
    assert (result.problem, result.accepted) == (None, 6)
    assert len(handler.contents) == 6
    # Dot-stuffing undone by aiosmtpd: the server stores exactly the reference message.
    assert all(content == stored_message(file.read_bytes()) for content in handler.contents)
    assert all(len(content) == MESSAGE_SIZE for content in handler.contents)
    assert len({peer for peer in handler.peers}) == 6, "one connection per message"


async def test_a_refused_message_fails_the_smtp_source_run(tmp_path: Path) -> None:
    handler = Recorder(reply="451 4.3.0 try later")
    server, port = await serve(handler)
    async with server:
        run = ReferenceRun(messages=5)
        command = smtp_source_command(run, port, 2, 5, write_message_file(tmp_path, run))
        result = await run_smtp_source(command, 5, deadline=60)
    assert result.accepted == 0
    assert result.problem is not None and result.problem.startswith("smtp-source:")


async def test_a_run_past_its_deadline_is_cut_and_says_so(tmp_path: Path) -> None:
    # A listener that never greets: smtp-source waits until we kill it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        run = ReferenceRun(messages=1)
        command = smtp_source_command(run, port, 1, 1, write_message_file(tmp_path, run))
        result = await run_smtp_source(command, 1, deadline=1)
    assert (result.accepted, result.problem) == (0, "deadline reached")


async def test_a_point_runs_the_repeats_settles_after_each_then_measures_latency(
    sink: CountingSink, tmp_path: Path
) -> None:
    run = ReferenceRun(messages=12, repeats=3, latency_messages=7, warmup=0)
    settled: list[int] = []

    async def settle(total: int) -> None:
        settled.append(total)
        await wait_until("smtp-sink's count", lambda: sink.messages() >= total, 30)

    endpoint = Endpoint(sink.port, settle=settle, count=sink.messages)
    sender = Sender(run, endpoint, write_message_file(tmp_path, run))
    point = await measure_point("smtp-sink", sender, sessions=4)

    assert point.problem is None
    assert [r.accepted for r in point.runs] == [12, 12, 12]
    assert all(r.settled_seconds is not None for r in point.runs)
    assert settled == [12, 24, 36, 43], "settled after every run and the latency run"
    assert point.latency is not None and point.latency.config.sessions == 4
    assert point.latency.config.messages_per_connection == 1
    assert (point.counted, point.sent) == (43, 43)
    assert point.client == "smtp-source"


def test_the_spread_is_median_min_and_max() -> None:
    assert Spread.of([300.0, 100.0, 200.0]) == Spread(200.0, 100.0, 300.0)
    assert Spread.of([]) is None


def test_a_ratio_is_median_over_the_baselines_median() -> None:
    assert ratio(Spread(50.0, 40.0, 60.0), Spread(200.0, 10.0, 900.0)) == 0.25
    assert ratio(None, Spread(1.0, 1.0, 1.0)) is None
    assert ratio(Spread(1.0, 1.0, 1.0), None) is None


def test_failed_runs_do_not_count_in_the_spread() -> None:
    good = ClientRun(messages=10, seconds=2.0, accepted=10, settled_seconds=4.0)
    bad = ClientRun(messages=10, seconds=1.0, accepted=0, problem="smtp-source: refused")
    point = PointResult("x", 20, runs=(good, bad))
    assert point.accepted == Spread(5.0, 5.0, 5.0)
    assert point.settled == Spread(2.5, 2.5, 2.5)
