"""Accept-rate benchmark: the same SMTP load against reference servers and MaiRust, one table.

Owns starting and stopping each target on free loopback ports, waiting for its greeting, running
``load.smtp_load`` against it in this process (a warm-up, then the measured run) and printing one
Markdown row per target. Targets, in order:

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
import contextlib
import logging
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from load.smtp_load import LoadConfig, LoadResult, run_load

__all__ = [
    "TargetRun",
    "free_loopback_port",
    "main",
    "markdown_table",
    "start_smtp_sink",
    "stop_process",
    "wait_for_greeting",
]

log = logging.getLogger("load.bench_accept")

REPO_ROOT = Path(__file__).resolve().parents[1]
SMTP_SINK = "/usr/sbin/smtp-sink"
DOMAIN = "example.test"
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


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _popen(args: Sequence[str], output: IO[Any] | int) -> subprocess.Popen[bytes]:
    # A session of its own, so a stubborn target and its children can be ended as one group.
    return subprocess.Popen(
        list(args),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_smtp_sink(port: int, *flags: str) -> subprocess.Popen[bytes]:
    """Postfix's smtp-sink on 127.0.0.1:``port``; ``flags`` such as ``-r RCPT`` change replies."""
    # smtp-sink refuses to run as root without a user to switch to after binding.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    args = [SMTP_SINK, *user, *flags, f"127.0.0.1:{port}", "1000"]
    return _popen(args, subprocess.DEVNULL)


def start_discarding_aiosmtpd(port: int) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "load.bench_accept", "--serve-discarding-aiosmtpd", str(port)]
    return _popen(args, subprocess.DEVNULL)


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
            os.killpg(process.pid, signal.SIGKILL)  # the group that _popen created for it
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


async def _measure(name: str, config: LoadConfig, warmup: int, repeat: int) -> TargetRun:
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
        return await _measure(name, replace(config, port=port), warmup, repeat)
    except RuntimeError as exc:
        return TargetRun(name, None, str(exc))
    finally:
        stop_process(process)


def _mairust_binary(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    venv_binary = REPO_ROOT / ".venv" / "bin" / "mairust"
    return str(venv_binary) if venv_binary.exists() else shutil.which("mairust")


@contextlib.contextmanager
def _mairust_up(
    binary: str, data_dir: Path, smtp_port: int, config_file: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``mairust up`` on free loopback ports, its output in ``data_dir/mairust-up.log``;
    stopped with SIGINT (graceful shutdown) on the way out."""
    args = [
        binary,
        "up",
        "--data-dir",
        str(data_dir),
        "--smtp-port",
        str(smtp_port),
        "--submission-port",
        str(free_loopback_port()),
        "--api-port",
        str(free_loopback_port()),
        "--domain",
        DOMAIN,
        *(["--config", str(config_file)] if config_file else []),
    ]
    log.info("starting %s", shlex.join(args))
    with (data_dir / "mairust-up.log").open("wb") as output:
        process = _popen(args, output)
        try:
            yield process
        finally:
            stop_process(process, signal.SIGINT, grace=60)


def _log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _add_users(
    binary: str, data_dir: Path, addresses: Sequence[str], config_file: Path | None = None
) -> str | None:
    """Create the recipients with `mairust user add`; return what went wrong, if anything."""
    extra = ["--config", str(config_file)] if config_file else []
    for address in addresses:
        added = subprocess.run(
            [
                binary,
                "user",
                "add",
                address,
                "--create-domain",
                "--data-dir",
                str(data_dir),
                *extra,
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )
        if added.returncode != 0:
            output = (added.stderr or added.stdout).decode(errors="replace").strip()
            last_line = output.splitlines()[-1] if output else f"status {added.returncode}"
            return f"`mairust user add {address}` failed: {last_line}"
    return None


async def _bench_mairust(
    binary: str | None,
    config: LoadConfig,
    warmup: int,
    repeat: int,
    startup: float,
    name: str = "mairust up (embedded)",
    config_file: Path | None = None,
) -> TargetRun:
    if binary is None:
        return TargetRun(name, None, "no mairust command found (.venv/bin/mairust or PATH)")
    with tempfile.TemporaryDirectory(prefix="mairust-bench-") as tmp:
        data_dir = Path(tmp)
        addresses = [config.to_pattern.format(n=n) for n in range(config.to_count)]
        problem = await asyncio.to_thread(_add_users, binary, data_dir, addresses, config_file)
        if problem is not None:
            return TargetRun(name, None, problem)
        port = free_loopback_port()
        with _mairust_up(binary, data_dir, port, config_file) as process:
            try:
                await wait_for_greeting(port, process, within_seconds=startup)
                run = await _measure(name, replace(config, port=port), warmup, repeat)
            except RuntimeError as exc:
                log.error(
                    "mairust up failed; last lines of its log:\n%s",
                    _log_tail(data_dir / "mairust-up.log"),
                )
                return TargetRun(name, None, str(exc))
        # Stopped now: its front-end logged the spool's group-commit sizes on the way out.
        for line in _log_tail(data_dir / "mairust-up.log", lines=400).splitlines():
            if "spool: committed" in line:
                print(f"{name}: {line.split('spool: ', 1)[1]}")
        return run


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
        binary = _mairust_binary(args.mairust)
        runs.append(
            await _bench_mairust(binary, config, args.warmup, args.repeat, args.startup_timeout)
        )
        if args.production:
            with tempfile.TemporaryDirectory(prefix="mairust-bench-config-") as tmp:
                production = production_config(Path(tmp))
                runs.append(
                    await _bench_mairust(
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


def production_config(directory: Path) -> Path:
    """A config naming a new database, bucket and index on the servers that
    `.ci/with-services.sh` started (MAIRUST_TEST_* in the environment)."""
    import sqlalchemy as sa

    from mairust.storage.sql_engine import postgres_url

    suffix = uuid.uuid4().hex[:10]
    server = os.environ["MAIRUST_TEST_POSTGRES_URL"]
    admin = sa.create_engine(postgres_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "mairust_bench_{suffix}"')
    admin.dispose()
    metadata = sa.make_url(server).set(database=f"mairust_bench_{suffix}")
    blobs = os.environ["MAIRUST_TEST_S3_URL"].replace("s3://mairust-test", f"s3://bench-{suffix}")
    search = os.environ["MAIRUST_TEST_OPENSEARCH_URL"] + f"?index=bench-{suffix}"
    path = directory / "production.toml"
    path.write_text(
        "[storage]\n"
        f'metadata = "{metadata.render_as_string(hide_password=False)}"\n'
        f'blobs = "{blobs}"\nsearch = "{search}"\n'
    )
    return path


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
