"""Accept-rate benchmark: the same SMTP load against reference servers and MaiRust, one table.

Owns the reference targets and the run: each target is started on a free loopback port, greeted,
measured with ``load.smtp_load`` in this process (``load.targets``) and printed as one Markdown
row; ``load.mairust_target`` owns the ``mairust up`` target. Targets, in order:

- ``smtp-sink``: Postfix's discarding test server in C, the ceiling of this client on this
  machine (the generator, not the server, is usually what limits it);
- ``aiosmtpd bare``: aiosmtpd with a handler that discards, in its own process: the Python SMTP
  floor MaiRust's front-end is built on;
- ``mairust up (embedded)``: the whole platform (local Ray, SQLite, files) with real recipients.

``python -m load.bench_accept --help``. Nothing here measures in tests; tests assert behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from load.mairust_target import DOMAIN, bench_mairust, mairust_binary, production_config
from load.smtp_load import LoadConfig
from load.targets import (
    TargetRun,
    free_loopback_port,
    machine_line,
    markdown_table,
    measure,
    start_target,
    stop_process,
    wait_for_greeting,
)

__all__ = ["main", "start_discarding_aiosmtpd", "start_smtp_sink"]

log = logging.getLogger("load.bench_accept")

SMTP_SINK = "/usr/sbin/smtp-sink"


def start_smtp_sink(port: int, *flags: str) -> subprocess.Popen[bytes]:
    """Postfix's smtp-sink on 127.0.0.1:``port``; ``flags`` such as ``-r RCPT`` change replies."""
    # smtp-sink refuses to run as root without a user to switch to after binding.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    args = [SMTP_SINK, *user, *flags, f"127.0.0.1:{port}", "1000"]
    return start_target(args, subprocess.DEVNULL)


def start_discarding_aiosmtpd(port: int) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "load.bench_accept", "--serve-discarding-aiosmtpd", str(port)]
    return start_target(args, subprocess.DEVNULL)


async def _bench_subprocess(
    name: str,
    start: Callable[[int], subprocess.Popen[bytes]],
    config: LoadConfig,
    warmup: int,
    repeat: int,
) -> TargetRun:
    port = free_loopback_port()
    process: subprocess.Popen[bytes] = start(port)
    try:
        await wait_for_greeting(port, process, within_seconds=15)
        return await measure(name, replace(config, port=port), warmup, repeat)
    except RuntimeError as exc:
        return TargetRun(name, None, str(exc))
    finally:
        stop_process(process)


async def run_benchmark(args: argparse.Namespace) -> list[TargetRun]:
    config = LoadConfig(
        sessions=args.sessions,
        messages=args.messages,
        size=args.size,
        recipients=args.recipients,
        to_count=args.to_count,
        deadline=args.deadline,
        to_pattern=f"user{{n}}@{DOMAIN}",
    )
    sink = "smtp-sink (Postfix, discards)"
    runs = [await _bench_subprocess(sink, start_smtp_sink, config, args.warmup, args.repeat)]
    if not args.skip_aiosmtpd:
        bare = "aiosmtpd bare (discards, 1 process)"
        runs.append(
            await _bench_subprocess(
                bare, start_discarding_aiosmtpd, config, args.warmup, args.repeat
            )
        )
    if not args.skip_mairust:
        binary = mairust_binary(args.mairust)
        runs.append(
            await bench_mairust(binary, config, args.warmup, args.repeat, args.startup_timeout)
        )
        if args.production:
            with tempfile.TemporaryDirectory(prefix="mairust-bench-config-") as tmp:
                production = production_config(Path(tmp))
                runs.append(
                    await bench_mairust(
                        binary,
                        config,
                        args.warmup,
                        args.repeat,
                        args.startup_timeout,
                        name="mairust up (PostgreSQL + S3 + OpenSearch)",
                        config_file=production,
                    )
                )
    return runs


class _DiscardingHandler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Message accepted and discarded"


async def serve_discarding_aiosmtpd(port: int) -> None:
    """Serve bare aiosmtpd on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    from aiosmtpd.smtp import SMTP  # only this server mode needs it

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(
        lambda: SMTP(_DiscardingHandler(), hostname="aiosmtpd-bare"), "127.0.0.1", port
    )
    async with server:
        await stop.wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m load.bench_accept",
        description="SMTP accept rate of smtp-sink, bare aiosmtpd and `mairust up`, side by side "
        "on loopback; prints a Markdown table.",
    )
    add = parser.add_argument
    add("--sessions", type=int, default=20)
    add("--messages", type=int, default=2000)
    add("--size", type=int, default=5120, help="message bytes")
    add("--recipients", type=int, default=1)
    add("--to-count", type=int, default=10, help="distinct recipients user0..N-1@example.test")
    add("--warmup", type=int, default=200, help="unmeasured messages sent first to each target")
    add("--repeat", type=_positive, default=1, help="measured runs per target; the best counts")
    add("--deadline", type=float, default=300.0, help="seconds per measured run")
    add("--startup-timeout", type=float, default=180.0, help="seconds for `mairust up` to greet")
    add("--mairust", default=None, help="the mairust command (default .venv/bin/mairust)")
    add("--skip-mairust", action="store_true")
    add(
        "--production",
        action="store_true",
        help="also run `mairust up` on PostgreSQL + S3 + OpenSearch (run under "
        ".ci/with-services.sh, which starts them)",
    )
    add("--skip-aiosmtpd", action="store_true")
    add("--serve-discarding-aiosmtpd", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.serve_discarding_aiosmtpd is not None:
        asyncio.run(serve_discarding_aiosmtpd(args.serve_discarding_aiosmtpd))
        return 0
    load_before = os.getloadavg()[0]
    runs = asyncio.run(run_benchmark(args))
    command = shlex.join(["python", "-m", "load.bench_accept", *(argv or sys.argv[1:])])
    print(f"`{command}` — {machine_line(load_before)}\n")
    print(
        markdown_table(
            runs,
            LoadConfig(
                sessions=args.sessions,
                messages=args.messages,
                size=args.size,
                to_count=args.to_count,
            ),
        )
    )
    return 0 if all(run.result is not None for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
