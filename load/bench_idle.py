"""Idle CPU of ``mairust up``: CPU seconds each of its processes uses while nothing happens.

Starts ``mairust up`` on a fresh data directory (loopback ports), waits for the banner and
then ``--settle`` seconds more, reads every process's CPU time (user + system, from
/proc/PID/stat) in the command's session, waits ``--seconds``, reads again and prints one
row per process, named as Ray names it (``ray::FrontEndHost``, ``raylet``, ``gcs_server``,
``dashboard/agent.py`` ...), with its share of one core. Stops the platform with Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from load.bench_startup import Launch
from load.mairust_target import mairust_binary
from load.processes import session_cpu


def measure(binary: str, seconds: float, settle: float) -> list[tuple[str, int, float]]:
    with tempfile.TemporaryDirectory(prefix="mairust-idle-") as scratch:
        launch = Launch(binary, Path(scratch) / "data", echo=None)
        try:
            if not launch.banner.wait(180) or "banner" not in launch.run.marks:
                raise RuntimeError("no banner:\n" + "".join(launch.run.output[-40:]))
            time.sleep(settle)
            before = session_cpu(launch.process.pid)
            time.sleep(seconds)
            after = session_cpu(launch.process.pid)
        finally:
            launch.stop()
    rows = []
    for pid, (name, cpu) in after.items():
        start = before.get(pid, (name, 0.0))[1]
        rows.append((name, pid, cpu - start))
    return sorted(rows, key=lambda row: -row[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the idle window")
    parser.add_argument("--settle", type=float, default=15.0, help="wait after the banner")
    parser.add_argument("--mairust", help="the mairust command (default: .venv/bin/mairust)")
    args = parser.parse_args(argv)
    binary = mairust_binary(args.mairust)
    if binary is None:
        parser.error("no mairust command found; pass --mairust")
    print(f"1-min load average before: {os.getloadavg()[0]:.2f}")
    rows = measure(binary, args.seconds, args.settle)
    print(f"| process | pid | CPU s in {args.seconds:.0f} s | % of one core |")
    print("|---|---:|---:|---:|")
    for name, pid, cpu in rows:
        print(f"| {name} | {pid} | {cpu:.2f} | {100 * cpu / args.seconds:.1f} |")
    total = sum(cpu for _, _, cpu in rows)
    print(f"| **all {len(rows)} processes** | | {total:.2f} | {100 * total / args.seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
