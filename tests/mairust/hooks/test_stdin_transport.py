"""The stdin transport against real child processes (a small Python script speaking the line
protocol, tests/support/stdin_plugins.py): a verdict comes back, answers out of order reach
their calls, the configuration travels with each call, a silent child is the chain's
on_timeout, a child that exits mid-call is its on_error and the next call starts another,
a child that dies at once is started again only after a backoff, calls in flight are
bounded, over-long lines are refused or dropped, and aclose terminates then kills."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mairust.hooks.chain import Binding, FailurePolicy, HookChain, Outcome
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.payload import build_request
from mairust.hooks.permissions import HookPermission
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.stdin_transport import StdinLimits, StdinPlugin, child_environment, command_of
from mairust.hooks.wire import HookRequest
from mairust.model.message import Envelope
from mairust.model.verdict import VerdictKind
from tests.support.stdin_plugins import python_child

ENVELOPE = Envelope(
    mail_from="s@remote.example",
    rcpt_tos=("a@example.test",),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    helo="client.example",
    client_ip="192.0.2.9",
)
BINDING = Binding(
    "child",
    HookPoint.PRE_RECEIVE,
    permissions=frozenset({HookPermission.REJECT, HookPermission.TAG}),
    on_timeout=FailurePolicy.TEMPFAIL,
    on_error=FailurePolicy.REJECT,
    timeout_seconds=0.5,
)
MESSAGE = b"Subject: hi\r\n\r\nbody\r\n"
DEFAULTS = StdinLimits()


def request() -> HookRequest:
    return build_request(HookPoint.PRE_RECEIVE, {DataScope.HEADERS}, ENVELOPE, MESSAGE)


class Child:
    """A StdinPlugin over the Python child, its configuration changeable between calls."""

    def __init__(self, tmp_path: Path, limits: StdinLimits = DEFAULTS, **config: Any):
        self.config: dict[str, Any] = dict(config)
        self.seen = tmp_path / "seen.jsonl"
        command = [*python_child(tmp_path), str(self.seen)]
        self.plugin = StdinPlugin("child", command, tmp_path, lambda: self.config, limits=limits)

    def lines_seen(self) -> int:
        return len(self.seen.read_text().splitlines()) if self.seen.exists() else 0


@pytest.fixture
async def child(tmp_path: Path):
    made: list[Child] = []

    def make(limits: StdinLimits = DEFAULTS, **config: Any) -> Child:
        made.append(Child(tmp_path, limits, **config))
        return made[-1]

    yield make
    for each in made:
        await each.plugin.aclose()


async def test_a_call_gets_the_childs_verdict_with_its_configuration(child) -> None:
    plugin = child(verdict="reject", reply="550 5.7.1 Not today")
    answer = await plugin.plugin(BINDING, request())
    assert answer.verdict is VerdictKind.REJECT and answer.reply == "550 5.7.1 Not today"
    assert answer.reason == f"pid {plugin.plugin.pid}"
    # A changed configuration reaches the same child with the next call.
    plugin.config = {"tags": ["changed"]}
    answer = await plugin.plugin(BINDING, request())
    assert answer.tags == ["changed"] and plugin.plugin.starts == 1
    sent = plugin.seen.read_text().splitlines()
    assert '"request":{"version":1,"point":"pre_receive"' in sent[0]
    assert '"headers":[["Subject","hi"]]' in sent[0]


async def test_answers_out_of_order_reach_their_calls(child) -> None:
    plugin = child(mode="hold", batch=3)
    answers = await asyncio.gather(*(plugin.plugin(BINDING, request()) for _ in range(3)))
    # The child answered the last call first: each call still got its own answer.
    assert [a.tags for a in answers] == [["1"], ["2"], ["3"]]
    assert plugin.plugin.starts == 1


async def test_a_silent_child_is_the_bindings_on_timeout(child) -> None:
    plugin = child(mode="silent")
    chain = HookChain(plugin.plugin)
    result = await chain.run([BINDING], lambda b: request(), 5.0)
    [record] = result.records
    assert record.outcome is Outcome.TIMEOUT and result.verdict.kind is VerdictKind.TEMPFAIL
    # The timed-out call gave its slot back: the next one is answered.
    plugin.config = {"tags": ["after"]}
    assert (await plugin.plugin(BINDING, request())).tags == ["after"]


async def test_a_child_that_exits_mid_call_is_on_error_then_restarted(child) -> None:
    plugin = child(mode="exit")
    chain = HookChain(plugin.plugin)
    result = await chain.run([BINDING], lambda b: request(), 5.0)
    [record] = result.records
    assert record.outcome is Outcome.ERROR and "exit code 3" in record.error
    assert result.verdict.kind is VerdictKind.REJECT  # its on_error
    first = plugin.lines_seen()
    plugin.config = {"verdict": "reject"}
    answer = await plugin.plugin(BINDING, request())
    assert answer.verdict is VerdictKind.REJECT and plugin.plugin.starts == 2
    assert answer.reason == f"pid {plugin.plugin.pid}" and first == 1


async def test_a_child_that_dies_at_once_is_not_restarted_in_a_loop(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    script = tmp_path / "dies.py"
    script.write_text(f"open({str(starts)!r}, 'a').write('x')\nraise SystemExit(1)\n")
    now = [100.0]
    plugin = StdinPlugin(
        "dies", [sys.executable, str(script)], tmp_path, dict, clock=lambda: now[0]
    )
    try:
        for _ in range(2):  # the first young death is started again at once
            with pytest.raises(PluginFailed, match=r"ended|closed its input"):
                await plugin(BINDING, request())
        with pytest.raises(PluginFailed, match=r"keeps dying; started again in 0\.5 s"):
            await plugin(BINDING, request())
        assert starts.read_text() == "xx" and plugin.starts == 2
        now[0] += 0.6  # the backoff passed: one more start, then a doubled wait
        with pytest.raises(PluginFailed, match=r"ended|closed its input"):
            await plugin(BINDING, request())
        with pytest.raises(PluginFailed, match=r"started again in 1\.0 s"):
            await plugin(BINDING, request())
        assert plugin.starts == 3
    finally:
        await plugin.aclose()


async def test_a_call_cancelled_while_its_child_starts_leaves_that_child_in_use(child) -> None:
    plugin = child(tags=["kept"])
    first = asyncio.ensure_future(plugin.plugin(BINDING, request()))
    await asyncio.sleep(0)  # the start is under way
    first.cancel()
    answers = await asyncio.gather(*(plugin.plugin(BINDING, request()) for _ in range(3)))
    assert [a.tags for a in answers] == [["kept"]] * 3 and plugin.plugin.starts == 1
    assert first.cancelled()


async def test_a_program_that_cannot_start_is_a_failure(tmp_path: Path) -> None:
    plugin = StdinPlugin("none", ["bin/absent"], tmp_path, dict)
    with pytest.raises(PluginFailed, match="cannot start 'bin/absent'"):
        await plugin(BINDING, request())


async def test_calls_in_flight_are_bounded(child) -> None:
    plugin = child(StdinLimits(max_in_flight=2), mode="hold", batch=3)
    calls = [asyncio.ensure_future(plugin.plugin(BINDING, request())) for _ in range(3)]
    done, waiting = await asyncio.wait(calls, timeout=1.0)
    # Two calls went to the child; the third waits for a slot, so it never reached it.
    assert not done and len(waiting) == 3
    assert plugin.lines_seen() == 2
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    # Cancelled (as a deadline cancels them), their slots are free again.
    plugin.config = {"tags": ["free"]}
    answers = await asyncio.gather(*(plugin.plugin(BINDING, request()) for _ in range(2)))
    assert [a.tags for a in answers] == [["free"], ["free"]]


async def test_an_over_long_request_is_refused_before_it_is_sent(child) -> None:
    plugin = child(StdinLimits(max_request_bytes=1000), padding="p" * 2000)
    with pytest.raises(PluginFailed, match=r"a request of \d+ bytes"):
        await plugin.plugin(BINDING, request())
    assert plugin.plugin.starts == 0


async def test_an_over_long_answer_is_dropped_and_the_child_goes_on(child) -> None:
    plugin = child(StdinLimits(max_answer_bytes=1024), mode="long", size=5000)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await plugin.plugin(BINDING, request())
    plugin.config = {"tags": ["next"]}
    answer = await plugin.plugin(BINDING, request())
    assert answer.tags == ["next"] and plugin.plugin.starts == 1


@pytest.mark.parametrize(
    ("mode", "message"),
    [("error", "answered an error: asked to fail"), ("junk", "answered no hook response")],
)
async def test_an_error_or_a_bad_response_is_a_failure(child, mode: str, message: str) -> None:
    plugin = child(mode=mode)
    with pytest.raises(PluginFailed, match=message):
        await plugin.plugin(BINDING, request())


async def test_the_childs_standard_error_is_logged(child, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mairust.hooks.stdin_transport")
    plugin = child()
    await plugin.plugin(BINDING, request())
    wanted = f"child {plugin.plugin.pid} ready"
    await plugin.plugin.aclose()  # its standard error read to the end
    assert wanted in caplog.text


async def test_aclose_terminates_then_kills_a_child_that_ignores_it(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "for line in sys.stdin:\n"
        "    print('{\"id\": %s, \"response\": {}}' % line.split(',')[0][6:], flush=True)\n"
        "time.sleep(60)\n"
    )
    plugin = StdinPlugin(
        "stubborn",
        [sys.executable, str(script)],
        tmp_path,
        dict,
        limits=StdinLimits(stop_seconds=0.5),
    )
    await plugin(BINDING, request())
    pid = plugin.pid
    assert pid is not None
    started = time.monotonic()
    await plugin.aclose()
    assert time.monotonic() - started < 3
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(PluginFailed, match="closed"):
        await plugin(BINDING, request())


def test_the_command_line_and_environment() -> None:
    directory = Path("/srv/plugins/x/1.0.0")
    assert command_of("bin/rules --mode 'a b'", directory) == [
        "/srv/plugins/x/1.0.0/bin/rules",
        "--mode",
        "a b",
    ]
    assert command_of("python3 -m rules", directory) == ["python3", "-m", "rules"]
    assert command_of("/usr/bin/rules", directory) == ["/usr/bin/rules"]
    with pytest.raises(ValueError):
        command_of("  ", directory)
    env = child_environment("x", "1.0.0")
    assert env["MAIRUST_PLUGIN"] == "x" and env["MAIRUST_PLUGIN_VERSION"] == "1.0.0"
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"} | {
        "MAIRUST_PLUGIN",
        "MAIRUST_PLUGIN_VERSION",
    }
