"""load/api_stats: percentiles, one operation's figures, the open-loop pacer (on a fake
clock) and the result tables with their PASS/MISS words. No timing is asserted."""

from __future__ import annotations

import asyncio

import pytest

from load.api_stats import (
    OpResult,
    closed_loop_table,
    open_loop_table,
    percentile,
    run_paced,
    send_offsets,
)


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 101)]  # 1 .. 100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_an_operation_counts_answers_and_errors_apart():
    result = OpResult("read", "closed", seconds=2.0)
    for latency in (30.0, 10.0, 20.0):
        result.record(latency, ok=True)
    result.record(5.0, ok=False, problem="503")
    assert result.ok == 3 and result.errors == 1 and result.error_examples == ["503"]
    assert result.throughput == 1.5  # answered requests only
    assert result.p(50) == 20.0
    result.cpu_seconds = {"replica": 0.03}
    assert result.cpu_ms_per_request("replica") == pytest.approx(10.0)
    assert result.cpu_ms_per_request("proxy") is None


def test_send_offsets_space_requests_evenly():
    assert send_offsets(4.0, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError):
        send_offsets(0, 3)


class FakeClock:
    """Time that moves only when the pacer sleeps; ``late`` seconds are added to every
    sleep (a generator that wakes up late)."""

    def __init__(self, late: float = 0.0) -> None:
        self.now = 100.0
        self.late = late

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)  # what is ready runs first, at the time it is now
        self.now += seconds + self.late


async def test_the_pacer_sends_each_request_when_it_is_due():
    clock = FakeClock()
    sent_at: list[float] = []

    async def send() -> bool:
        sent_at.append(clock())
        return True

    result = await paced(OpResult("list", "open"), send, 10.0, 4, clock)
    assert sent_at == pytest.approx([100.0, 100.1, 100.2, 100.3])
    assert result.ok == 4 and result.rate == 10.0 and result.max_send_lag_ms == pytest.approx(0)


async def test_a_late_send_counts_its_lateness_in_the_latency():
    # Latency runs from when a request was due, so a generator that falls behind cannot
    # hide the wait (coordinated omission).
    clock = FakeClock(late=0.005)

    async def send() -> bool:
        return True

    result = await paced(OpResult("read", "open"), send, 10.0, 3, clock)
    assert result.latencies_ms[0] == pytest.approx(0.0)
    assert min(result.latencies_ms[1:]) == pytest.approx(5.0)
    assert result.max_send_lag_ms == pytest.approx(5.0)


async def test_the_pacer_does_not_wait_for_answers():
    clock = FakeClock()
    started = 0
    release = asyncio.Event()

    async def send() -> bool:
        nonlocal started
        started += 1
        if started == 5:
            release.set()  # every request is out before the first one is answered
        await release.wait()
        return started == 5

    result = await paced(OpResult("list", "open"), send, 50.0, 5, clock)
    assert result.ok == 5 and result.errors == 0


async def test_a_request_that_raises_is_an_error_not_a_crash():
    clock = FakeClock()

    async def send() -> bool:
        raise ConnectionRefusedError("refused")

    result = await paced(OpResult("list", "open"), send, 10.0, 2, clock)
    assert result.ok == 0 and result.errors == 2
    assert "ConnectionRefusedError" in result.error_examples[0]


async def paced(
    result: OpResult, send: object, rate: float, count: int, clock: FakeClock
) -> OpResult:
    return await run_paced(result, send, rate, count, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def _closed(name: str, requests: int, latencies: tuple[float, ...]) -> OpResult:
    result = OpResult(name, "closed", seconds=1.0, concurrency=32)
    result.latencies_ms = [latencies[n % len(latencies)] for n in range(requests)]
    result.cpu_seconds = {"proxy": requests * 0.002, "replica": requests * 0.004, "client": 0.5}
    return result


def test_closed_loop_table_compares_each_operation_with_hello():
    rows = closed_loop_table(
        [
            _closed("hello", 1000, (5.0,)),
            _closed("list", 700, (9.0,)),
            _closed("read", 690, (8.0,)),
        ],
        hello="hello",
    ).splitlines()
    assert rows[2] == (
        "| hello | 32 | 1000 | 1000 | 1.00 | (base) | 5.0 | 5.0 | 0 | 2.0 | 4.0 | 0.5 |"
    )
    assert rows[3].startswith("| list | 32 | 700 | 700 | 0.70 | PASS | 9.0 | 9.0 | 0 |")
    assert rows[4].startswith("| read | 32 | 690 | 690 | 0.69 | MISS | 8.0 | 8.0 | 0 |")


def test_closed_loop_table_without_hello_shows_no_ratio():
    [row] = closed_loop_table([_closed("list", 10, (1.0,))], hello="hello").splitlines()[2:]
    assert row.startswith("| list | 32 | 10 | 10 | - | - |")


def test_open_loop_table_says_whether_p99_is_under_50_ms():
    fast = OpResult("list", "open", seconds=10.0, rate=200.0, max_send_lag_ms=1.25)
    fast.latencies_ms = [10.0] * 98 + [49.9, 80.0]  # p99 is the 99th of 100: 49.9
    slow = OpResult("read", "open", seconds=10.0, rate=200.0)
    slow.latencies_ms = [10.0] * 97 + [50.0, 60.0, 70.0]
    failing = OpResult("list", "open", seconds=10.0, rate=200.0)
    failing.latencies_ms = [1.0] * 100
    failing.errors = 1  # fast, but not every request was answered
    rows = open_loop_table([fast, slow, failing]).splitlines()
    assert rows[2] == "| list | 200 | 100 | 10 | 10.0 | 49.9 | PASS | 0 | 1.2 |"
    assert rows[3] == "| read | 200 | 100 | 10 | 10.0 | 60.0 | MISS | 0 | 0.0 |"
    assert "| MISS | 1 |" in rows[4]


async def test_requests_unanswered_after_the_grace_time_are_errors():
    clock = FakeClock()
    answered = 0

    async def send() -> bool:
        nonlocal answered
        answered += 1
        if answered > 2:
            await asyncio.sleep(60)  # never answers within the grace time
        return True

    result = await run_paced(
        OpResult("list", "open"), send, 100.0, 4, clock=clock, sleep=clock.sleep, grace=0.05
    )
    assert result.ok == 2 and result.errors == 2
    assert result.error_examples == ["2 unanswered 0.05 s after the last send"]
