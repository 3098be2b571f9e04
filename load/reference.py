"""The reference benchmark run of MaiRust: the one definition every later benchmark reuses.

Owns what "the reference run" means, and nothing about any particular server:

- **the message**: exactly 5 KiB (5,120 bytes as stored, headers included, CRLF), built by
  ``load.message_factory`` and handed to Postfix's ``smtp-source`` as a prepared file (``-F``),
  the same for every message (each server adds its own Received: header and queue id);
- **the load**: ``smtp-source -s 20 -m 3000 -F FILE`` — 20 sessions, a new connection per
  message (no ``-d``), 3,000 messages a point, one recipient; ``smtp-source`` is the client for
  throughput, and throughput = messages / wall time of ``smtp-source``;
- **latency**: ``load.smtp_load`` at the same concurrency, also a connection per message;
  latency runs from ``MAIL FROM`` to the 250 after the end of DATA (p50, p99 and the CDF);
  with ``latency_load`` (``--latency-at 0.8``) it is instead offered that fraction of the
  point's median accepted rate, open loop (the issue's "p99 at 80 % of peak");
- **repetitions**: a warm-up run first, then at least 3 measured runs; a figure is the median
  of the runs, reported with their minimum and maximum;
- **ratios**: a target's median over the median of "Postfix durable accept" measured in the
  same run at the same number of sessions.

:func:`measure_point` runs this protocol against one started target (``Endpoint``); the
targets are in ``load.reference_targets``, the command in ``load.bench_reference``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from load.message_factory import MessageFactory
from load.smtp_load import LoadConfig, LoadResult, MessageSource, run_load

log = logging.getLogger("load.reference")

SMTP_SOURCE = "/usr/sbin/smtp-source"
MESSAGE_SIZE = 5120
SESSIONS = 20
MESSAGES = 3000
WARMUP = 300
REPEATS = 3
SENDER = "load@example.test"
RECIPIENT_DOMAIN = "example.test"
RECIPIENT = f"user0@{RECIPIENT_DOMAIN}"
CLIENT_HELO = "load.example.test"

Settle = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class ReferenceRun:
    """The parameters of a reference run; the defaults are the reference itself."""

    messages: int = MESSAGES
    sessions: tuple[int, ...] = (SESSIONS,)
    size: int = MESSAGE_SIZE
    warmup: int = WARMUP
    repeats: int = REPEATS
    latency_messages: int = MESSAGES
    # The latency run's offered rate as a fraction of the point's median accepted rate (open
    # loop, e.g. 0.8); None: at the same sessions, as fast as replies come (closed loop).
    latency_load: float | None = None
    deadline: float = 600.0  # seconds for one client run, and for one settle
    mail_from: str = SENDER
    recipient: str = RECIPIENT
    helo: str = CLIENT_HELO

    def __post_init__(self) -> None:
        if self.messages < 1 or self.latency_messages < 1 or self.warmup < 0:
            raise ValueError("messages must be at least 1 and warm-up at least 0")
        if self.repeats < 1 or not self.sessions or min(self.sessions) < 1:
            raise ValueError("repeats and every sessions value must be at least 1")
        if self.latency_load is not None and not 0 < self.latency_load <= 1:
            raise ValueError("latency_load is a fraction of the peak rate: in (0, 1]")

    def load_config(self, port: int, sessions: int, messages: int) -> LoadConfig:
        """``smtp_load``'s settings for the same load as ``smtp-source`` sends."""
        return LoadConfig(
            port=port,
            sessions=sessions,
            messages=messages,
            size=self.size,
            mail_from=self.mail_from,
            to_pattern=self.recipient,
            to_count=1,
            messages_per_connection=1,
            deadline=self.deadline,
            ehlo_name=self.helo,
        )


def smtp_source_file(run: ReferenceRun) -> bytes:
    """What ``smtp-source -F`` is given: LF line ends, no newline after the last line.

    smtp-source sends every line of the file followed by CRLF (dot-stuffed), and then one more
    CRLF before the final dot, so the message (built 2 bytes short) arrives as exactly
    ``run.size`` bytes whose last line is empty: see :func:`stored_message`.
    """
    message = MessageFactory(
        size=run.size - 2,
        mail_from=run.mail_from,
        to_pattern=run.recipient,
        to_count=1,
        recipients_per_message=1,
        id_domain=run.helo,
    ).build(0)
    return message.replace(b"\r\n", b"\n").removesuffix(b"\n")


def stored_message(file_bytes: bytes) -> bytes:
    """The bytes a server stores from ``smtp-source -F`` with this file (CRLF lines)."""
    return file_bytes.replace(b"\n", b"\r\n") + b"\r\n\r\n"


def write_message_file(directory: Path, run: ReferenceRun) -> Path:
    path = directory / "reference-message.txt"
    path.write_bytes(smtp_source_file(run))
    return path


def smtp_source_command(
    run: ReferenceRun, port: int, sessions: int, messages: int, message_file: Path
) -> list[str]:
    """The exact ``smtp-source`` command line of a reference point."""
    return [
        SMTP_SOURCE,
        "-4",
        "-s",
        str(sessions),
        "-m",
        str(messages),
        "-F",
        str(message_file),
        "-f",
        run.mail_from,
        "-t",
        run.recipient,
        "-M",
        run.helo,
        f"127.0.0.1:{port}",
    ]


@dataclass(frozen=True)
class ClientRun:
    """One client run: how many messages were sent, how long it took, and until when the
    target had passed them all on (``settled_seconds``, from the same start)."""

    messages: int
    seconds: float
    accepted: int
    settled_seconds: float | None = None
    problem: str | None = None

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0

    @property
    def settled_rate(self) -> float | None:
        if self.settled_seconds is None or self.settled_seconds <= 0:
            return None
        return self.accepted / self.settled_seconds


async def run_smtp_source(command: Sequence[str], messages: int, deadline: float) -> ClientRun:
    """Run ``smtp-source``; every message was accepted only if it exits 0 (without ``-A`` it
    gives up at the first reply that is not the expected one)."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(deadline):
            _, stderr = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()  # the smtp-source we started, nothing else
        await process.wait()
        return ClientRun(messages, time.perf_counter() - started, 0, None, "deadline reached")
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        lines = stderr.decode(errors="replace").strip().splitlines()
        why = lines[-1] if lines else f"exit status {process.returncode}"
        return ClientRun(messages, seconds, 0, None, f"smtp-source: {why}")
    return ClientRun(messages, seconds, messages)


async def run_smtp_load(config: LoadConfig, source: MessageSource | None) -> ClientRun:
    """The same load through ``smtp_load`` (for messages smtp-source cannot send)."""
    result = await run_load(config, source)
    problem = None
    if result.accepted != config.messages:
        failures = ", ".join(f"{code} x{n}" for code, n in sorted(result.failures.items()))
        problem = f"{config.messages - result.accepted} not accepted ({failures or 'deadline'})"
    return ClientRun(config.messages, result.wall_seconds, result.accepted, None, problem)


@dataclass(frozen=True)
class Spread:
    """Median, minimum and maximum of some measured runs."""

    median: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values))


def ratio(target: Spread | None, baseline: Spread | None) -> float | None:
    """Target median over baseline median (both from the same run and sessions)."""
    if target is None or baseline is None or baseline.median <= 0:
        return None
    return target.median / baseline.median


@dataclass(frozen=True)
class Endpoint:
    """A started target on 127.0.0.1:``port``.

    ``settle(total)`` returns once the target has passed on ``total`` messages since it
    started (its queue is empty, the relay's sink has them, the mailboxes are filled); None
    when nothing stands behind its 250. ``count()`` is how many it has passed on or received.
    ``messages`` replaces smtp-source with ``smtp_load`` sending these messages (each one
    DKIM-signed, say) from ``mail_from`` with ``helo``. ``api`` is a MaiRust target's REST
    API: its base URL and admin token, for a look at what it stored; ``pid`` its session
    leader (every process of its Ray is in that session).
    """

    port: int
    settle: Settle | None = None
    count: Callable[[], int] | None = None
    messages: MessageSource | None = None
    mail_from: str | None = None
    helo: str | None = None
    api: tuple[str, str] | None = None
    pid: int | None = None

    @property
    def client(self) -> str:
        return "smtp-source" if self.messages is None else "smtp_load"


@dataclass(frozen=True)
class PointResult:
    """One target at one number of sessions: its measured runs and its latency run."""

    target: str
    sessions: int
    client: str = "smtp-source"
    runs: tuple[ClientRun, ...] = ()
    latency: LoadResult | None = None
    counted: int | None = None  # what the target counted after the last run (``count()``)
    sent: int | None = None  # what was sent to the target by then, warm-up included
    problem: str | None = None

    @property
    def accepted(self) -> Spread | None:
        return Spread.of([run.rate for run in self.runs if run.problem is None])

    @property
    def settled(self) -> Spread | None:
        rates = [run.settled_rate for run in self.runs if run.problem is None]
        return Spread.of([rate for rate in rates if rate is not None])


class Sender:
    """Sends reference loads to one endpoint and counts every message accepted by it."""

    def __init__(self, run: ReferenceRun, endpoint: Endpoint, message_file: Path) -> None:
        self.run = replace(
            run,
            mail_from=endpoint.mail_from or run.mail_from,
            helo=endpoint.helo or run.helo,
        )
        self.endpoint = endpoint
        self.message_file = message_file
        self.sent = 0

    async def send(self, sessions: int, messages: int) -> ClientRun:
        """One client run, then wait until the target has passed the messages on."""
        started = time.perf_counter()
        if self.endpoint.messages is None:
            command = smtp_source_command(
                self.run, self.endpoint.port, sessions, messages, self.message_file
            )
            client_run = await run_smtp_source(command, messages, self.run.deadline)
        else:
            config = self.run.load_config(self.endpoint.port, sessions, messages)
            client_run = await run_smtp_load(config, self.endpoint.messages)
        self.sent += client_run.accepted
        if self.endpoint.settle is None or client_run.problem is not None:
            return client_run
        await self.endpoint.settle(self.sent)
        settled = time.perf_counter() - started
        return replace(client_run, settled_seconds=settled)

    async def latency(self, sessions: int, rate: float | None = None) -> LoadResult:
        config = self.run.load_config(self.endpoint.port, sessions, self.run.latency_messages)
        config = replace(config, rate=rate)
        result = await run_load(config, self.endpoint.messages)
        self.sent += result.accepted
        if self.endpoint.settle is not None:
            await self.endpoint.settle(self.sent)
        return result


async def measure_point(target: str, sender: Sender, sessions: int) -> PointResult:
    """``repeats`` measured runs at ``sessions``, then the latency run at the same
    concurrency; each run starts once the target has passed on everything before it."""
    client = sender.endpoint.client
    runs: list[ClientRun] = []
    for attempt in range(1, sender.run.repeats + 1):
        client_run = await sender.send(sessions, sender.run.messages)
        runs.append(client_run)
        settled = client_run.settled_rate
        log.info(
            "%s, %d sessions: run %d/%d, %.0f msg/s accepted%s%s",
            target,
            sessions,
            attempt,
            sender.run.repeats,
            client_run.rate,
            "" if settled is None else f", {settled:.0f} msg/s passed on",
            "" if client_run.problem is None else f" ({client_run.problem})",
        )
        if client_run.problem is not None:
            return PointResult(target, sessions, client, tuple(runs), problem=client_run.problem)
    fraction, peak = sender.run.latency_load, Spread.of([run.rate for run in runs])
    rate = None if fraction is None or peak is None else fraction * peak.median
    latency = await sender.latency(sessions, rate)
    problem = None
    if latency.accepted != latency.config.messages:
        problem = f"latency run: {latency.config.messages - latency.accepted} not accepted"
    counted = sender.endpoint.count() if sender.endpoint.count is not None else None
    return PointResult(
        target, sessions, client, tuple(runs), latency, counted, sender.sent, problem
    )
