"""What the API benchmark computes from its samples, without any I/O: nearest-rank
percentiles, one operation's result (throughput, p50, p99, errors), the open-loop pacer
(send at fixed times whatever the answers do) and the Markdown tables with PASS/MISS words.

The pacer takes its clock and its sleep as parameters, so tests drive it with a fake clock.
Nothing here asserts a target: a missed target is a ``MISS`` in the table, never an error.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

# Targets of issue 8: throughput at least this share of the hello endpoint's, and p99 under
# this at the fixed open-loop rate.
THROUGHPUT_RATIO_TARGET = 0.7
P99_TARGET_MS = 50.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
# One request: True when it was answered as expected (a 2xx with the right body).
Send = Callable[[], Awaitable[bool]]


def percentile(sorted_values: Sequence[float], percent: float) -> float | None:
    """Nearest-rank percentile of already sorted values (as ``load.smtp_load``); None if empty."""
    if not sorted_values:
        return None
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100]")
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class OpResult:
    """One operation's measured run: latencies in ms of the answered requests, errors, the
    wall time of the run, and (open loop) the offered rate and how late sends started."""

    name: str
    mode: str  # "closed" (N clients, each one request at a time) or "open" (fixed rate)
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    concurrency: int = 0
    rate: float = 0.0
    max_send_lag_ms: float = 0.0
    # CPU seconds by process name over the run (the platform's processes and this client).
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def record(self, latency_ms: float, ok: bool, problem: str = "") -> None:
        if ok:
            self.latencies_ms.append(latency_ms)
            return
        self.errors += 1
        if problem and len(self.error_examples) < 3:
            self.error_examples.append(problem)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        """Answered requests per second of wall time."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def p(self, percent: float) -> float | None:
        return percentile(sorted(self.latencies_ms), percent)

    def cpu_ms_per_request(self, process: str) -> float | None:
        seconds = self.cpu_seconds.get(process)
        if seconds is None or not self.ok:
            return None
        return seconds * 1000 / self.ok


def send_offsets(rate: float, count: int) -> list[float]:
    """Seconds from the start at which an open-loop run at ``rate`` req/s sends each request."""
    if rate <= 0 or count < 0:
        raise ValueError("a paced run needs a positive rate and a count of at least 0")
    return [n / rate for n in range(count)]


async def run_paced(
    result: OpResult,
    send: Send,
    rate: float,
    count: int,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    grace: float = 5.0,
) -> OpResult:
    """Open loop: start request ``n`` at ``n / rate`` s whatever the earlier ones are doing,
    each in its own task. A request's latency runs from when it was DUE, not from when it
    started, so a generator or server that falls behind shows in the percentiles instead of
    quietly lowering the offered rate (coordinated omission); the worst start lag is kept.
    Requests still unanswered ``grace`` seconds after the last send are cancelled and
    counted as errors, so a server that cannot keep up does not stretch the run."""
    result.rate = rate
    started = clock()
    pending: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        try:
            ok = await send()
            problem = ""
        except Exception as exc:  # a refused connection or a timeout counts as an error
            ok, problem = False, repr(exc)
        result.record((clock() - due) * 1000, ok, problem)

    for offset in send_offsets(rate, count):
        due = started + offset
        wait = due - clock()
        if wait > 0:
            await sleep(wait)
        result.max_send_lag_ms = max(result.max_send_lag_ms, (clock() - due) * 1000)
        task = asyncio.create_task(one(due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        _, late = await asyncio.wait(set(pending), timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            result.errors += len(late)
            result.error_examples.append(f"{len(late)} unanswered {grace:g} s after the last send")
    result.seconds = clock() - started
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def closed_loop_table(results: Sequence[OpResult], hello: str) -> str:
    """One row per closed-loop operation: throughput, its ratio to ``hello``'s with the
    >= 0.7x verdict, p50, p99, errors, and the CPU ms a request cost the Serve proxy and the
    replica that answered it."""
    base = next((r.throughput for r in results if r.name == hello), 0.0)
    lines = [
        "| operation | clients | requests | req/s | x hello | "
        f">= {THROUGHPUT_RATIO_TARGET}x | p50 ms | p99 ms | errors | "
        "CPU ms/req proxy | CPU ms/req replica | CPU ms/req client |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.name == hello:
            ratio, verdict = "1.00", "(base)"
        elif base > 0:
            share = r.throughput / base
            ratio, verdict = f"{share:.2f}", _verdict(share >= THROUGHPUT_RATIO_TARGET)
        else:
            ratio, verdict = "-", "-"
        lines.append(
            f"| {r.name} | {r.concurrency} | {r.ok} | {r.throughput:.0f} | {ratio} | {verdict} | "
            f"{_ms(r.p(50))} | {_ms(r.p(99))} | {r.errors} | "
            f"{_ms(r.cpu_ms_per_request('proxy'))} | {_ms(r.cpu_ms_per_request('replica'))} | "
            f"{_ms(r.cpu_ms_per_request('client'))} |"
        )
    return "\n".join(lines)


def open_loop_table(results: Sequence[OpResult]) -> str:
    """One row per open-loop operation: offered and achieved rate, p50, p99 and whether p99
    is under the target."""
    lines = [
        "| operation | offered req/s | answered | req/s | p50 ms | p99 ms | "
        f"p99 < {P99_TARGET_MS:.0f} ms | errors | worst send lag ms |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        p99 = r.p(99)
        verdict = "-" if p99 is None else _verdict(p99 < P99_TARGET_MS and r.errors == 0)
        lines.append(
            f"| {r.name} | {r.rate:.0f} | {r.ok} | {r.throughput:.0f} | {_ms(r.p(50))} | "
            f"{_ms(p99)} | {verdict} | {r.errors} | {r.max_send_lag_ms:.1f} |"
        )
    return "\n".join(lines)
