"""What every accept-rate target shares: starting it on a free loopback port, waiting for its
greeting, stopping it, measuring it with ``load.smtp_load`` and reporting a Markdown row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import random
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from load.smtp_load import LoadConfig, LoadResult, run_load

log = logging.getLogger("load.bench_accept")

REPO_ROOT = Path(__file__).resolve().parents[1]
TABLE_HEADER = (
    "| target | sessions | messages | size | accepted msg/s | p50 ms | p99 ms | failures |\n"
    "|---|---:|---:|---:|---:|---:|---:|---|"
)


@dataclass(frozen=True)
class TargetRun:
    """One target's measured run, or why it could not run."""

    name: str
    result: LoadResult | None
    problem: str | None = None


# Ports handed out for servers started later: below Linux's ephemeral range (32768-60999,
# where the OS takes every port it picks itself: outgoing connections' source ports, Ray's
# and gRPC's "any free port"), so nothing the OS picks can take one before its server binds
# it; and above Ray's worker ports (10002-19999 by default).
LISTEN_PORTS = range(20000, 32768)


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now, from ``LISTEN_PORTS`` (at random)."""
    for _ in range(200):
        port = random.choice(LISTEN_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken: try another
            return port
    raise OSError(f"no free port on 127.0.0.1 in {LISTEN_PORTS}")


def start_target(args: Sequence[str], output: IO[Any] | int) -> subprocess.Popen[bytes]:
    # A session of its own, so a stubborn target and its children can be ended as one group.
    return subprocess.Popen(
        list(args),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_for_greeting(
    port: int, process: subprocess.Popen[bytes], within_seconds: float
) -> None:
    """Return once 127.0.0.1:``port`` greets with 220; raise RuntimeError if the process exits
    or no greeting comes in time."""
    give_up = time.monotonic() + within_seconds
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"target exited with status {process.returncode} before greeting")
        try:
            async with asyncio.timeout(2):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                greeting = await reader.readline()
                writer.write(b"QUIT\r\n")
                writer.close()
            if greeting.startswith(b"220"):
                return
        except (OSError, TimeoutError):
            pass  # not listening yet: that is what we are waiting for
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no SMTP greeting on 127.0.0.1:{port} within {within_seconds:.0f} s")


def stop_process(
    process: subprocess.Popen[bytes], first_signal: int = signal.SIGTERM, grace: float = 30.0
) -> None:
    """Send ``first_signal`` to the process we started; after ``grace`` seconds end its group."""
    if process.poll() is not None:
        return
    process.send_signal(first_signal)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        log.warning(
            "pid %d ignored signal %d for %.0f s; killing its group",
            process.pid,
            first_signal,
            grace,
        )
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group that start_target created for it
        process.wait(10)


def _failures_cell(result: LoadResult) -> str:
    missing = result.config.messages - result.accepted
    if missing == 0:
        return "0"
    details = [f"{code} x{count}" for code, count in sorted(result.failures.items())]
    if result.aborted_at_deadline or result.not_attempted:
        details.append(f"deadline: {result.aborted_at_deadline + result.not_attempted}")
    return f"{missing} ({', '.join(details)})"


def markdown_table(runs: Sequence[TargetRun], config: LoadConfig) -> str:
    rows = [TABLE_HEADER]
    for run in runs:
        settings = f"{config.sessions} | {config.messages} | {config.size}"
        if run.result is None:
            problem = (run.problem or "").replace("|", "\\|")
            rows.append(f"| {run.name} | {settings} | - | - | - | not run: {problem} |")
            continue
        result = run.result
        p50, p99 = result.latency_percentile(50), result.latency_percentile(99)
        rows.append(
            f"| {run.name} | {settings} | {result.accepted_per_second:.0f} | "
            f"{'-' if p50 is None else f'{p50:.1f}'} | {'-' if p99 is None else f'{p99:.1f}'} | "
            f"{_failures_cell(result)} |"
        )
    return "\n".join(rows)


async def measure(name: str, config: LoadConfig, warmup: int, repeat: int) -> TargetRun:
    """Warm up, then run ``repeat`` times and keep the fastest run: on a shared machine the
    slower runs measure the neighbours as much as the target."""
    if warmup:
        await run_load(replace(config, messages=warmup))
    results = []
    for attempt in range(1, repeat + 1):
        results.append(await run_load(config))
        rate = results[-1].accepted_per_second
        log.info("%s: run %d/%d, %.0f msg/s accepted", name, attempt, repeat, rate)
    return TargetRun(name, max(results, key=lambda result: result.accepted_per_second))


def machine_line(load_before: float) -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({model}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
        f"1-min load average {load_before:.2f} before the run (other work on the machine skews "
        "the numbers)"
    )
