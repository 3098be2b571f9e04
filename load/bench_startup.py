"""Start-up benchmark: how long ``mairust up`` takes until it is ready, first start and restart.

Each round starts ``mairust up`` on a fresh data directory (the first start: migrations,
a new Ray), sends a message, stops it with Ctrl-C (SIGINT), then starts it again on the same
directory (the restart) and does the same. For every start it prints the seconds from the
command's launch to:

- **smtp**: the first 220 greeting on the SMTP port (polled every 50 ms from the launch);
- **healthz**: the first 200 from ``GET /healthz`` (polled likewise);
- **banner**: the ``MaiRust is up`` line on its output;
- **250**: the reply to a message sent the moment the banner appeared (after creating its
  mailbox through the API);
- **searchable**: that message listed in its mailbox and found by ``/api/v1/search``.

Everything runs on 127.0.0.1; each start is bounded by ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from load.mairust_target import mairust_binary
from load.processes import session_cpu
from load.targets import REPO_ROOT, free_loopback_port

READY_LINE = "MaiRust is up"
TOKEN = "bench-startup-token"
DOMAIN = "example.test"
MARKS = ("smtp", "healthz", "banner", "250", "searchable")


@dataclass
class StartRun:
    """One start of ``mairust up``: seconds from launch to each mark, and its output."""

    kind: str
    marks: dict[str, float] = field(default_factory=dict)
    # CPU seconds each process of the session had used when the banner appeared.
    cpu_at_banner: dict[int, tuple[str, float]] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    problem: str | None = None


class Launch:
    """A running ``mairust up`` and the clock that started with it."""

    def __init__(self, binary: str, data_dir: Path, echo: IO[str] | None) -> None:
        self.smtp_port = free_loopback_port()
        self.api_port = free_loopback_port()
        self._echo = echo
        self.run = StartRun("")
        self.banner = threading.Event()
        args = [
            binary,
            "up",
            "--data-dir",
            str(data_dir),
            "--smtp-port",
            str(self.smtp_port),
            "--submission-port",
            str(free_loopback_port()),
            "--api-port",
            str(self.api_port),
            "--domain",
            DOMAIN,
        ]
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "MAIRUST_ADMIN_TOKEN": TOKEN},
            start_new_session=True,
        )
        self.finished = threading.Event()
        for target in (self._read_output, self._poll_smtp, self._poll_healthz):
            threading.Thread(target=target, daemon=True).start()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def mark(self, name: str) -> None:
        self.run.marks.setdefault(name, self.elapsed())

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.run.output.append(line)
            if self._echo is not None:
                self._echo.write(f"[{self.elapsed():6.2f}] {line}")
            if READY_LINE in line:
                self.mark("banner")
                self.run.cpu_at_banner = session_cpu(self.process.pid)
                self.banner.set()
        self.finished.set()
        self.banner.set()

    def _poll(self, name: str, probe: Callable[[], bool]) -> None:
        while not self.finished.is_set() and name not in self.run.marks:
            with contextlib.suppress(OSError, httpx.HTTPError, smtplib.SMTPException):
                if probe():
                    self.mark(name)
                    return
            time.sleep(0.05)

    def _poll_smtp(self) -> None:
        def greets() -> bool:
            with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=5) as smtp:
                return smtp.noop()[0] == 250

        self._poll("smtp", greets)

    def _poll_healthz(self) -> None:
        def healthy() -> bool:
            url = f"http://127.0.0.1:{self.api_port}/healthz"
            return httpx.get(url, timeout=5).status_code == 200

        self._poll("healthz", healthy)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the session Popen made for it
            self.process.wait(10)
        self.finished.wait(10)


def send_and_find(launch: Launch, mailbox: str, deadline: float) -> None:
    """Create ``mailbox``, send it a message with a unique word, wait until it is searchable."""
    word = f"startup{uuid.uuid4().hex[:12]}"
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{launch.api_port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    with api:
        created = api.post("/api/v1/users", json={"address": mailbox})
        if created.status_code not in (201, 409):
            raise RuntimeError(f"creating {mailbox}: {created.status_code} {created.text}")
        with smtplib.SMTP("127.0.0.1", launch.smtp_port, timeout=30) as smtp:
            message = f"Subject: start-up probe\r\n\r\n{word}\r\n".encode()
            smtp.sendmail("bench@remote.example", [mailbox], message)
        launch.mark("250")
        while time.monotonic() < deadline:
            listed = api.get("/api/v1/messages", params={"mailbox": mailbox}).json()["items"]
            hits = api.get("/api/v1/search", params={"q": word}).json()["items"]
            if listed and [hit["id"] for hit in hits] == [listed[0]["id"]]:
                launch.mark("searchable")
                return
            time.sleep(0.05)
    raise RuntimeError("the message was not searchable in time")


def one_start(
    binary: str, data_dir: Path, kind: str, mailbox: str, timeout: float, echo: IO[str] | None
) -> StartRun:
    launch = Launch(binary, data_dir, echo)
    launch.run.kind = kind
    try:
        if not launch.banner.wait(timeout) or "banner" not in launch.run.marks:
            raise RuntimeError("no banner")
        send_and_find(launch, mailbox, launch.started + timeout)
        # The pollers may still be waiting on a reply; give them a moment to record it.
        for _ in range(100):
            if "smtp" in launch.run.marks and "healthz" in launch.run.marks:
                break
            time.sleep(0.05)
    except (RuntimeError, OSError, httpx.HTTPError, smtplib.SMTPException) as problem:
        launch.run.problem = str(problem)
    finally:
        launch.stop()
    return launch.run


def bench(binary: str, rounds: int, timeout: float, echo: IO[str] | None) -> list[StartRun]:
    runs: list[StartRun] = []
    for number in range(rounds):
        with tempfile.TemporaryDirectory(prefix="mairust-startup-") as scratch:
            data_dir = Path(scratch) / "data"
            for kind in ("first start", "restart"):
                mailbox = f"{kind.split()[0]}{number}@{DOMAIN}"
                run = one_start(binary, data_dir, kind, mailbox, timeout, echo)
                runs.append(run)
                print(row(run), flush=True)
                if run.problem:
                    print("".join(run.output[-40:]), file=sys.stderr)
    return runs


def row(run: StartRun) -> str:
    cells = [f"{run.marks[m]:.1f}" if m in run.marks else "-" for m in MARKS]
    cpu = sum(seconds for _, seconds in run.cpu_at_banner.values())
    return f"| {run.kind} | {' | '.join(cells)} | {cpu:.1f} | {run.problem or ''} |"


def cpu_breakdown(run: StartRun) -> str:
    """CPU seconds per process name at the banner, most first."""
    by_name: dict[str, list[float]] = {}
    for name, seconds in run.cpu_at_banner.values():
        by_name.setdefault(name, []).append(seconds)
    ranked = sorted(by_name.items(), key=lambda item: -sum(item[1]))
    return ", ".join(f"{name} x{len(cpus)} {sum(cpus):.1f}" for name, cpus in ranked)


def summary(runs: list[StartRun]) -> str:
    lines = ["| start | " + " | ".join(f"{m} s (median)" for m in MARKS) + " |"]
    lines.append("|---|" + "---:|" * len(MARKS))
    for kind in ("first start", "restart"):
        of_kind = [run for run in runs if run.kind == kind]
        cells = []
        for mark in MARKS:
            values = [run.marks[mark] for run in of_kind if mark in run.marks]
            cells.append(f"{statistics.median(values):.1f}" if values else "-")
        lines.append(f"| {kind} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="first start + restart pairs")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for each start")
    parser.add_argument("--mairust", help="the mairust command (default: .venv/bin/mairust)")
    parser.add_argument("--echo", action="store_true", help="print its output, time-stamped")
    parser.add_argument("--json", action="store_true", help="print every run as JSON at the end")
    parser.add_argument("--cpu", action="store_true", help="CPU seconds per process at banner")
    args = parser.parse_args(argv)
    binary = mairust_binary(args.mairust)
    if binary is None:
        parser.error("no mairust command found; pass --mairust")
    print(f"1-min load average before: {os.getloadavg()[0]:.2f}")
    print("| start | " + " | ".join(f"{m} s" for m in MARKS) + " | CPU s at banner | problem |")
    print("|---|" + "---:|" * (len(MARKS) + 1) + "---|")
    runs = bench(binary, args.rounds, args.timeout, sys.stdout if args.echo else None)
    if args.cpu:
        for run in runs:
            print(f"{run.kind}: {cpu_breakdown(run)}")
    print()
    print(summary(runs))
    if args.json:
        result: list[dict[str, Any]] = [
            {"kind": run.kind, "marks": run.marks, "problem": run.problem} for run in runs
        ]
        print(json.dumps(result))
    return 1 if any(run.problem for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
