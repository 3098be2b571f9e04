"""The floor under the ``serve`` hook transport: what one bare Ray Serve call costs on this
machine, measured in the Serve of a running ``mairust up``, with nothing of MaiRust in it.

The hooks benchmark compares ``mairust up`` with and without no-op ``serve`` plugins; this
says how much of the difference no plugin platform on Serve can avoid. A no-op deployment
(``Floor.many`` answers each request of a list with itself: the serve transport's call
shape) is put beside the platform (one replica, no CPU reserved, like a plugin's) and
called through a ``DeploymentHandle`` from this process:

- **one caller**: calls one after another, so nothing queues: the round trip's p50 and p99,
  the least a synchronous serve hook can add to an SMTP transaction;
- **paced**: ``rate`` calls a second (the benchmark gives the platform's no-plugin accept
  rate, one call per message) for ``seconds``, and the same time idle before it: the CPU
  every process of the platform's session and this process spent, minus the idle window's,
  per call.

``ceiling`` turns that into the highest accept rate ratio a plugin platform could reach on
this machine with ``calls_per_message`` such calls a message (a Serve call carrying several
messages divides the cost): a platform that keeps every core busy at ``rate`` messages a
second spends ``cores / rate`` core-seconds a message, and each call adds its CPU on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from load.joined_ray import yardstick_app
from load.processes import session_cpu

# About what the serve transport sends for a 5 KiB message with the headers scope.
REQUEST = '{"hook": "pre_receive", "headers": "' + "x" * 1500 + '"}'


class Floor:
    """Answers each request of a list at once (the serve transport's ``many`` shape)."""

    def __init__(self) -> None:
        from cluster.loopback import bind_serve_grpc_to_node_ip

        bind_serve_grpc_to_node_ip()

    async def many(self, requests: list[str]) -> list[dict[str, str]]:
        return [{"response": request} for request in requests]


@dataclass(frozen=True)
class FloorResult:
    one_caller_p50_ms: float
    one_caller_p99_ms: float
    rate: float  # calls a second offered in the paced window
    calls: int  # calls answered in the paced window
    cpu_ms_per_call: float  # every process's CPU, less the idle window's, per call


def ceiling(cpu_ms_per_call: float, rate: float, cores: int, calls_per_message: float) -> float:
    """The highest ratio to the no-plugin rate with ``calls_per_message`` Serve calls a
    message, if the platform without them keeps ``cores`` busy at ``rate`` msg/s."""
    per_message = cores / rate  # core-seconds a message without plugins
    added = calls_per_message * cpu_ms_per_call / 1000.0
    return per_message / (per_message + added)


def messages_per_call_for(
    target: float, cpu_ms_per_call: float, rate: float, cores: int, plugins: int
) -> float:
    """How many messages each Serve call would have to carry for ``plugins`` plugins to keep
    ``target`` of the no-plugin rate (``ceiling`` solved for the batch size)."""
    per_message = cores / rate
    allowed = per_message * (1.0 / target - 1.0)  # core-seconds the calls may add a message
    return plugins * (cpu_ms_per_call / 1000.0) / allowed


@contextlib.contextmanager
def floor_beside(mairust_pid: int) -> Iterator[Any]:
    """The no-op application in the Serve of that ``mairust up``; yields its handle."""
    with yardstick_app(mairust_pid, Floor, "floor") as handle:
        yield handle


def _cpu_seconds(sid: int) -> float:
    """CPU so far of every process of the platform's session, and of this process."""
    return sum(seconds for _, seconds in session_cpu(sid).values()) + time.process_time()


async def _one_caller(handle: Any, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await handle.many.remote([REQUEST])
        times.append((time.perf_counter() - started) * 1000.0)
    return times


async def _paced(handle: Any, rate: float, calls: int) -> int:
    start = time.perf_counter()

    async def one(index: int) -> None:
        await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        await handle.many.remote([REQUEST])

    await asyncio.gather(*(one(index) for index in range(calls)))
    return calls


async def measure_floor(
    mairust_pid: int, rate: float, seconds: float = 10.0, one_caller_calls: int = 300
) -> FloorResult:
    """Measure the floor in the Serve of the ``mairust up`` led by ``mairust_pid``."""
    with floor_beside(mairust_pid) as handle:
        await _one_caller(handle, 50)  # the first calls set up the handle's routing
        times = sorted(await _one_caller(handle, one_caller_calls))
        before = _cpu_seconds(mairust_pid)
        await asyncio.sleep(seconds)
        idle = _cpu_seconds(mairust_pid) - before
        before, started = _cpu_seconds(mairust_pid), time.perf_counter()
        calls = await _paced(handle, rate, max(1, int(rate * seconds)))
        busy = _cpu_seconds(mairust_pid) - before
        idle *= (time.perf_counter() - started) / seconds  # the paced window may run long
    return FloorResult(
        one_caller_p50_ms=statistics.median(times),
        one_caller_p99_ms=times[min(len(times) - 1, int(len(times) * 0.99))],
        rate=rate,
        calls=calls,
        cpu_ms_per_call=max(0.0, busy - idle) * 1000.0 / calls,
    )


def floor_paragraph(floor: FloorResult, rate: float, cores: int, targets: dict[int, float]) -> str:
    """What a bare Serve call costs here, and what it leaves of the no-plugin rate, for each
    number of plugins in ``targets`` (plugins -> the ratio wanted)."""
    ceilings = ", ".join(
        f"{ceiling(floor.cpu_ms_per_call, rate, cores, plugins):.2f}x with {plugins}"
        for plugins in targets
    )
    needed = ", ".join(
        f"{messages_per_call_for(target, floor.cpu_ms_per_call, rate, cores, plugins):.1f} "
        f"for {target}x with {plugins}"
        for plugins, target in targets.items()
    )
    return (
        "The floor under the serve transport (`load.serve_floor`: a no-op Serve deployment "
        "beside the no-plugin platform, called through a handle; nothing of MaiRust in it): "
        f"round trip at one caller **p50 {floor.one_caller_p50_ms:.1f} ms, p99 "
        f"{floor.one_caller_p99_ms:.1f} ms**; **{floor.cpu_ms_per_call:.2f} ms of CPU a call** "
        f"(every process, idle subtracted) at {floor.rate:.0f} calls/s ({floor.calls} calls). "
        f"At one Serve call a plugin a message, the no-plugin rate ({rate:.0f} msg/s on "
        f"{cores} cores) keeps at most {ceilings} plugin(s); messages each Serve call would "
        f"have to carry: {needed}."
    )
