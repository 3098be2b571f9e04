"""Soak run: ``mairust up`` under a steady, paced load for minutes, with the resident memory
of every one of its processes, the accept rate and the queue depth sampled as it goes.

What it answers: does anything grow while the load stays the same? Each process of the
platform (the driver, Ray's daemons, every actor by its Ray name) is sampled from /proc, so
a growth shows where it lives, not only that the total rose. The load is paced: every
second the generator sends ``--rate`` messages (one bounded ``run_load`` each second), so
the platform sees a flat rate below its peak rather than a flood. Loopback only, bounded
by ``--minutes``.

``python -m load.soak --help`` for the options; numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from load.mairust_target import DOMAIN, add_users, mairust_binary, running_mairust_up
from load.smtp_load import LoadConfig, run_load
from load.targets import free_loopback_port, wait_for_greeting

MAX_MINUTES = 60.0
MAX_RATE = 5000


@dataclass
class Sample:
    """One look at the platform: seconds since the load began, RSS per process (MiB),
    messages accepted and not accepted since the previous sample, queue rows not done."""

    at: float
    rss_mib: dict[str, float]
    accepted: int
    not_accepted: int
    queue_not_done: int | None
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def total_mib(self) -> float:
        return sum(self.rss_mib.values())


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def process_name(pid: int) -> str:
    """``ray::DispatcherHost``-style names for Ray workers, else the program and its module."""
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        argv = [part.decode(errors="replace") for part in cmdline.read().split(b"\0") if part]
    if not argv:
        return f"pid {pid}"
    if argv[0].startswith("ray::"):
        return argv[0].split()[0]
    program = Path(argv[0]).name
    module = next((Path(arg).name for arg in argv[1:] if arg.endswith(".py")), "")
    return f"{program} {module}".strip()


def rss_by_process(root: int) -> dict[str, float]:
    """Resident MiB of each process of the tree, keyed ``name[pid]``."""
    sizes: dict[str, float] = {}
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as status:
                rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            sizes[f"{process_name(pid)}[{pid}]"] = rss_kib / 1024
        except (OSError, StopIteration, ValueError):
            continue  # exited, or a kernel thread without RSS
    return sizes


def queue_not_done(api_port: int, token: str) -> int | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{api_port}/api/v1/queue/stats",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            counts: dict[str, int] = json.load(response)["counts"]
    except (OSError, ValueError, KeyError):
        return None
    return sum(count for state, count in counts.items() if state != "done")


async def paced_load(
    config: LoadConfig, rate: int, seconds: float, sample_every: float, on_sample: SampleHook
) -> None:
    """Send ``rate`` messages in each second for ``seconds``; call ``on_sample`` every
    ``sample_every`` seconds with what was accepted since the last call."""
    started = time.monotonic()
    accepted = not_accepted = 0
    latencies: list[float] = []
    next_sample = sample_every
    second = 0
    while second < seconds:
        result = await run_load(
            LoadConfig(**{**config.__dict__, "messages": rate, "deadline": 5.0})
        )
        accepted += result.accepted
        not_accepted += rate - result.accepted
        latencies.extend(result.latencies_ms)
        second += 1
        # Pace: the next second's messages start on the second, however long these took.
        await asyncio.sleep(max(0.0, started + second - time.monotonic()))
        if second >= next_sample:
            await on_sample(second, accepted, not_accepted, latencies)
            accepted = not_accepted = 0
            latencies = []
            next_sample += sample_every


class SampleHook:
    """Collects samples of one running ``mairust up``."""

    def __init__(self, root: int, api_port: int, token: str) -> None:
        self.root = root
        self.api_port = api_port
        self.token = token
        self.samples: list[Sample] = []

    async def __call__(
        self, at: float, accepted: int, not_accepted: int, latencies: list[float]
    ) -> None:
        rss = await asyncio.to_thread(rss_by_process, self.root)
        depth = await asyncio.to_thread(queue_not_done, self.api_port, self.token)
        sample = Sample(at, rss, accepted, not_accepted, depth, sorted(latencies))
        self.samples.append(sample)
        print(
            f"{at:6.0f} s  {sample.total_mib:8.0f} MiB  accepted {accepted:6d}"
            f"  not accepted {not_accepted:4d}  queue not done {depth}",
            flush=True,
        )


def growth_table(samples: Sequence[Sample], baseline_index: int) -> str:
    """Markdown: each process's RSS at the baseline sample and at the end, and the growth."""
    first, last = samples[baseline_index], samples[-1]
    rows = ["| process | MiB at baseline | MiB at end | growth |", "|---|---:|---:|---:|"]
    names = sorted(
        set(first.rss_mib) | set(last.rss_mib),
        key=lambda name: -(last.rss_mib.get(name, 0) - first.rss_mib.get(name, 0)),
    )
    for name in names:
        before, after = first.rss_mib.get(name), last.rss_mib.get(name)
        if before is None or after is None:
            rows.append(f"| {name} | {before or '-'} | {after or '-'} | (came or went) |")
            continue
        rows.append(f"| {name} | {before:.0f} | {after:.0f} | {_percent(before, after)} |")
    rows.append(
        f"| **all** | {first.total_mib:.0f} | {last.total_mib:.0f} | "
        f"{_percent(first.total_mib, last.total_mib)} |"
    )
    return "\n".join(rows)


def _percent(before: float, after: float) -> str:
    return f"{(after - before) * 100 / before:+.1f} %" if before else "-"


def rate_table(samples: Sequence[Sample], sample_every: float) -> str:
    rows = [
        "| at s | accepted msg/s | not accepted | p99 ms | queue not done | RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for sample in samples:
        p99 = (
            sample.latencies_ms[
                min(len(sample.latencies_ms) - 1, int(len(sample.latencies_ms) * 0.99))
            ]
            if sample.latencies_ms
            else float("nan")
        )
        rows.append(
            f"| {sample.at:.0f} | {sample.accepted / sample_every:.0f} | {sample.not_accepted}"
            f" | {p99:.1f} | {sample.queue_not_done} | {sample.total_mib:.0f} |"
        )
    return "\n".join(rows)


async def soak(args: argparse.Namespace) -> int:
    binary = mairust_binary(args.mairust)
    if binary is None:
        print("no mairust command found (.venv/bin/mairust or PATH)")
        return 2
    with tempfile.TemporaryDirectory(prefix="mairust-soak-") as tmp:
        data_dir = Path(tmp)
        addresses = [f"user{n}@{DOMAIN}" for n in range(10)]
        problem = add_users(binary, data_dir, addresses)
        if problem is not None:
            print(problem)
            return 1
        smtp_port, api_port = free_loopback_port(), free_loopback_port()
        with running_mairust_up(binary, data_dir, smtp_port, api_port=api_port) as process:
            await wait_for_greeting(smtp_port, process, within_seconds=args.startup_timeout)
            token = (data_dir / "admin_token").read_text().strip()
            hook = SampleHook(process.pid, api_port, token)
            config = LoadConfig(
                port=smtp_port, sessions=min(args.sessions, args.rate), size=args.size, timeout=10.0
            )
            await paced_load(config, args.rate, args.minutes * 60, args.sample_seconds, hook)
    samples = hook.samples
    if len(samples) < 2:
        print("too few samples for a table; run longer")
        return 1
    # Growth is judged after the first minute: caches and pools fill while it warms up.
    baseline = min(len(samples) - 1, max(0, round(60 / args.sample_seconds) - 1))
    print()
    print(rate_table(samples, args.sample_seconds))
    print()
    print(growth_table(samples, baseline))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m load.soak",
        description="Steady paced SMTP load on `mairust up` for minutes; samples the resident "
        "memory of each of its processes, the accept rate and the queue depth.",
    )
    parser.add_argument("--rate", type=int, default=100, help="messages sent each second")
    parser.add_argument("--minutes", type=float, default=20.0, help=f"at most {MAX_MINUTES}")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions")
    parser.add_argument("--size", type=int, default=5120, help="message bytes")
    parser.add_argument(
        "--sample-seconds",
        type=float,
        default=30.0,
        help="seconds between samples (the first minute is the warm-up)",
    )
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument("--mairust", help="the mairust command (default .venv/bin/mairust)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 0 < args.minutes <= MAX_MINUTES or not 0 < args.rate <= MAX_RATE:
        print(f"--minutes must be in (0, {MAX_MINUTES}] and --rate in (0, {MAX_RATE}]")
        return 2
    if args.sample_seconds < 1:
        print("--sample-seconds must be at least 1")
        return 2
    return asyncio.run(soak(args))


if __name__ == "__main__":
    raise SystemExit(main())
