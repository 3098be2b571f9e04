"""SMTP load generator: many concurrent SMTP sessions from one asyncio process, bounded in count
and time.

Owns the load configuration, the session logic (greeting, EHLO, one mail transaction after
another, RSET after a failure, QUIT) and the result: counts by outcome and latency percentiles.
The wire is ``load.smtp_client``, the messages ``load.message_factory``. smtplib in threads would
make the client the bottleneck; one event loop drives hundreds of sessions cheaply.

Load goes to loopback addresses only (127.0.0.0/8, ::1, ``localhost``): this machine may send
traffic nowhere else, so any other host is refused before a socket is opened.

``python -m load.smtp_load --help`` for the command line; tests and ``load.bench_accept`` call
:func:`run_load` in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ipaddress
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from load.message_factory import MessageFactory, parse_size
from load.smtp_client import Reply, SmtpClient, SmtpProtocolError

__all__ = [
    "LoadConfig",
    "LoadResult",
    "LoadRun",
    "MessageSource",
    "NonLoopbackHostError",
    "add_load_options",
    "loopback_address",
    "main",
    "message_factory",
    "run_load",
]

_CLOSING_CODES = frozenset({421})  # the server is closing the channel: no RSET, reconnect


class MessageSource(Protocol):
    """Who message ``index`` goes to and its bytes (``MessageFactory``, or prepared messages)."""

    def recipients(self, index: int) -> list[str]: ...

    def build(self, index: int) -> bytes: ...


class NonLoopbackHostError(ValueError):
    """The target is not a loopback address; this machine sends load to loopback only."""


def loopback_address(host: str) -> str:
    """Return the IP address to connect to for ``host``, refusing anything not loopback.

    Only literal addresses and ``localhost`` are taken, so no DNS query is ever made.
    """
    if host.lower().rstrip(".") == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise NonLoopbackHostError(
            f"refusing host {host!r}: give a loopback address (127.0.0.0/8, ::1) or localhost"
        ) from None
    if not address.is_loopback:
        raise NonLoopbackHostError(
            f"refusing host {host!r}: load may only go to loopback (127.0.0.0/8, ::1)"
        )
    return str(address)


@dataclass(frozen=True)
class LoadConfig:
    """One load run. ``timeout`` bounds each SMTP reply, ``deadline`` the whole run (seconds)."""

    host: str = "127.0.0.1"
    port: int = 2525
    sessions: int = 20
    messages: int = 1000
    size: int = 5120
    recipients: int = 1
    mail_from: str = "load@example.test"
    to_pattern: str = "user{n}@example.test"
    to_count: int = 10
    messages_per_connection: int | None = None
    timeout: float = 30.0
    deadline: float = 300.0
    ehlo_name: str = "load.example.test"
    # (user, password): AUTH PLAIN after EHLO on every connection (a submission port).
    auth: tuple[str, str] | None = field(default=None, repr=False)
    # Open loop: message i starts no earlier than i / rate seconds after the run starts, so
    # latency is measured at an offered rate rather than at whatever the server sustains.
    # None: closed loop, each session sends its next message as soon as the last is done.
    rate: float | None = None

    def __post_init__(self) -> None:
        for name in ("sessions", "messages", "size", "recipients", "to_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.messages_per_connection is not None and self.messages_per_connection < 1:
            raise ValueError("messages_per_connection must be at least 1")
        if self.timeout <= 0 or self.deadline <= 0:
            raise ValueError("timeout and deadline must be positive")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.recipients > self.to_count:
            raise ValueError("recipients per message exceed to_count: a recipient would repeat")
        try:
            self.to_pattern.format(n=0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"to_pattern may only use {{n}}: {exc}") from None


@dataclass
class _Tally:
    """What the sessions have seen so far; one event loop, so no locks.

    A message is settled exactly once: by its reply code, or by the connection error that cut
    it. An error after that (say, in the RSET that follows a rejection) only drops the connection.
    """

    total: int
    claimed: int = 0
    accepted: int = 0
    tempfailed: int = 0
    rejected: int = 0
    errors: int = 0
    recipients_tempfailed: int = 0
    recipients_rejected: int = 0
    in_flight: set[int] = field(default_factory=set)
    failures: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    # How late the most behind message started against its schedule (an open-loop run whose
    # sessions cannot keep up falls behind: its latencies are then not at the offered rate).
    worst_lag_ms: float = 0.0

    def claim(self) -> int | None:
        if self.claimed >= self.total:
            return None
        index = self.claimed
        self.claimed += 1
        self.in_flight.add(index)
        return index

    def record_reply(self, index: int, code: int, latency_ms: float | None = None) -> None:
        self.in_flight.remove(index)
        if 200 <= code < 300:
            self.accepted += 1
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)
            return
        self.failures[str(code)] += 1
        if 400 <= code < 500:
            self.tempfailed += 1
        elif 500 <= code < 600:
            self.rejected += 1
        else:
            self.errors += 1

    def record_error(self, index: int, exc: BaseException) -> None:
        if index not in self.in_flight:
            return
        self.in_flight.remove(index)
        self.errors += 1
        kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        self.failures[f"error: {kind}"] += 1


@dataclass(frozen=True)
class LoadResult:
    """Outcome of a run. Latencies are of accepted messages, from MAIL FROM to the final reply."""

    config: LoadConfig
    accepted: int
    tempfailed: int
    rejected: int
    errors: int
    aborted_at_deadline: int
    not_attempted: int
    recipients_tempfailed: int
    recipients_rejected: int
    failures: dict[str, int]
    latencies_ms: tuple[float, ...]
    wall_seconds: float
    deadline_reached: bool
    worst_lag_ms: float = 0.0  # open loop only: the latest start against the schedule

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def latency_percentile(self, percent: float) -> float | None:
        """Nearest-rank percentile in ms, or None when nothing was accepted."""
        if not self.latencies_ms:
            return None
        rank = max(1, math.ceil(percent / 100 * len(self.latencies_ms)))
        return self.latencies_ms[rank - 1]

    def as_json(self) -> dict[str, object]:
        summary: dict[str, object] = {
            k: v for k, v in asdict(self).items() if k not in ("config", "latencies_ms")
        }
        summary["config"] = asdict(self.config)
        summary["accepted_per_second"] = round(self.accepted_per_second, 1)
        for name, pct in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)):
            value = self.latency_percentile(pct)
            summary[f"latency_{name}_ms"] = None if value is None else round(value, 3)
        return summary

    def summary(self) -> str:
        def ms(pct: float) -> str:
            value = self.latency_percentile(pct)
            return "-" if value is None else f"{value:.2f}"

        failures = ", ".join(f"{k} x{v}" for k, v in sorted(self.failures.items())) or "none"
        ending = "deadline reached" if self.deadline_reached else "all messages sent"
        return "\n".join(
            [
                f"target         {self.config.host}:{self.config.port} ({ending})",
                f"accepted       {self.accepted} of {self.config.messages} messages",
                f"not accepted   {self.tempfailed} temp-failed (4xx), {self.rejected} rejected "
                f"(5xx), {self.errors} errors, {self.aborted_at_deadline} cut by deadline, "
                f"{self.not_attempted} not sent",
                f"wall time      {self.wall_seconds:.3f} s",
                f"accept rate    {self.accepted_per_second:.1f} msg/s"
                + (
                    ""
                    if self.config.rate is None
                    else f" (offered {self.config.rate:.1f}, worst start lag "
                    f"{self.worst_lag_ms:.1f} ms)"
                ),
                f"latency ms     p50 {ms(50)}  p90 {ms(90)}  p99 {ms(99)}  max {ms(100)}",
                f"failures       {failures}",
            ]
        )


def message_factory(config: LoadConfig, id_token: str | None = None) -> MessageFactory:
    """The messages of ``config``; ``id_token`` is shared by the parts of one distributed run."""
    return MessageFactory(
        size=config.size,
        mail_from=config.mail_from,
        to_pattern=config.to_pattern,
        to_count=config.to_count,
        recipients_per_message=config.recipients,
        id_domain=config.ehlo_name,
        id_token=id_token,
    )


async def _send_message(
    client: SmtpClient, factory: MessageSource, index: int, tally: _Tally, config: LoadConfig
) -> bool:
    """Run one mail transaction; return False when the connection must not be reused."""
    started = time.perf_counter()
    reply = await client.command(f"MAIL FROM:<{config.mail_from}>")
    if reply.code // 100 != 2:
        tally.record_reply(index, reply.code)
        return await _reset(client, reply)
    first_tempfail: int | None = None
    first_reject: int | None = None
    accepted_recipients = 0
    for recipient in factory.recipients(index):
        reply = await client.command(f"RCPT TO:<{recipient}>")
        if reply.code // 100 == 2:
            accepted_recipients += 1
        elif reply.code // 100 == 4:
            tally.recipients_tempfailed += 1
            first_tempfail = first_tempfail or reply.code
        else:
            tally.recipients_rejected += 1
            first_reject = first_reject or reply.code
        if reply.code in _CLOSING_CODES:
            tally.record_reply(index, reply.code)
            return False
    if accepted_recipients == 0:
        # A temporary failure means a retry may still deliver, so it outranks a rejection.
        tally.record_reply(index, first_tempfail or first_reject or reply.code)
        return await _reset(client, reply)
    reply = await client.command("DATA")
    if reply.code != 354:
        tally.record_reply(index, reply.code)
        return await _reset(client, reply)
    reply = await client.send_data(factory.build(index))
    tally.record_reply(index, reply.code, (time.perf_counter() - started) * 1000)
    return reply.code not in _CLOSING_CODES


async def _reset(client: SmtpClient, failed: Reply) -> bool:
    if failed.code in _CLOSING_CODES:
        return False
    return (await client.command("RSET")).code // 100 == 2


async def _open_session(address: str, config: LoadConfig) -> tuple[SmtpClient | None, Reply]:
    """Connect, greet and EHLO (HELO if EHLO is refused); no client if the server turns us away."""
    client, reply = await SmtpClient.open(address, config.port, config.timeout)
    if reply.code == 220:
        reply = await client.command(f"EHLO {config.ehlo_name}")
        if reply.code // 100 == 5:
            reply = await client.command(f"HELO {config.ehlo_name}")
        if reply.code // 100 == 2 and config.auth is not None:
            reply = await _authenticate(client, *config.auth)
        if reply.code // 100 == 2:
            return client, reply
    client.abort()
    return None, reply


async def _authenticate(client: SmtpClient, user: str, password: str) -> Reply:
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
    return await client.command(f"AUTH PLAIN {token}")


async def _run_session(
    address: str, config: LoadConfig, factory: MessageSource, tally: _Tally
) -> None:
    client: SmtpClient | None = None
    sent_on_connection = 0
    try:
        while (index := tally.claim()) is not None:
            if config.rate is not None:
                await _wait_for_turn(tally, index, config.rate)
            try:
                if client is None:
                    client, reply = await _open_session(address, config)
                    sent_on_connection = 0
                    if client is None:
                        tally.record_reply(index, reply.code)
                        continue
                reusable = await _send_message(client, factory, index, tally, config)
            except (OSError, TimeoutError, SmtpProtocolError) as exc:
                tally.record_error(index, exc)
                if client is not None:
                    client.abort()
                client = None
                continue
            sent_on_connection += 1
            limit = config.messages_per_connection
            if not reusable or (limit is not None and sent_on_connection >= limit):
                await _close_quietly(client, reusable)
                client = None
        if client is not None:
            await _close_quietly(client, polite=True)
            client = None
    finally:
        if client is not None:  # cancelled at the deadline: drop the connection at once
            client.abort()


async def _wait_for_turn(tally: _Tally, index: int, rate: float) -> None:
    due = tally.started + index / rate
    ahead = due - time.perf_counter()
    if ahead > 0:
        await asyncio.sleep(ahead)
    else:
        tally.worst_lag_ms = max(tally.worst_lag_ms, -ahead * 1000)


async def _close_quietly(client: SmtpClient, polite: bool) -> None:
    """QUIT when the connection is healthy; a failing QUIT changes no message's outcome."""
    if not polite:
        client.abort()
        return
    try:
        await client.quit()
    except (OSError, TimeoutError, SmtpProtocolError):
        client.abort()


class LoadRun:
    """One run whose counts can be read while it goes (``load.distributed_load`` reports
    progress from them); :func:`run_load` is the one-shot form.

    Raises NonLoopbackHostError before any traffic if the host is not loopback, and
    ValueError if ``config.size`` cannot hold the headers."""

    def __init__(self, config: LoadConfig, source: MessageSource | None = None) -> None:
        self._address = loopback_address(config.host)
        self._factory = source or message_factory(config)
        self._factory.build(config.messages - 1)  # the longest index: fail now, not per session
        self._config = config
        self._tally = _Tally(total=config.messages)

    def progress(self) -> tuple[int, int]:
        """(accepted, settled): messages accepted, and given any outcome, so far."""
        tally = self._tally
        return tally.accepted, tally.claimed - len(tally.in_flight)

    async def run(self) -> LoadResult:
        config, tally = self._config, self._tally
        started = tally.started = time.perf_counter()
        tasks = [
            asyncio.create_task(_run_session(self._address, config, self._factory, tally))
            for _ in range(min(config.sessions, config.messages))
        ]
        done, pending = await asyncio.wait(tasks, timeout=config.deadline)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        wall = time.perf_counter() - started
        for task in done:
            task.result()  # a bug in a session must surface, not vanish into the counts
        return LoadResult(
            config=config,
            accepted=tally.accepted,
            tempfailed=tally.tempfailed,
            rejected=tally.rejected,
            errors=tally.errors,
            aborted_at_deadline=len(tally.in_flight),
            not_attempted=config.messages - tally.claimed,
            recipients_tempfailed=tally.recipients_tempfailed,
            recipients_rejected=tally.recipients_rejected,
            failures=dict(tally.failures),
            latencies_ms=tuple(sorted(tally.latencies_ms)),
            wall_seconds=wall,
            deadline_reached=bool(pending),
            worst_lag_ms=tally.worst_lag_ms,
        )


async def run_load(config: LoadConfig, source: MessageSource | None = None) -> LoadResult:
    """Send ``config.messages`` messages over ``config.sessions`` connections; stop at the
    deadline. ``source`` gives the messages (default: ``config``'s size and recipients).
    Raises as :class:`LoadRun` does."""
    return await LoadRun(config, source).run()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m load.smtp_load",
        description="Send bounded SMTP load to a loopback server and report accept rate and "
        "latency. Exit status: 0 all accepted, 1 some not accepted, 2 bad arguments.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="loopback only: 127.0.0.0/8, ::1 or localhost")
    add("--port", type=int, default=2525)
    add_load_options(parser)
    add("--json", action="store_true", help="print one JSON line instead of the summary")
    return parser


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """The options of a run besides its target, named as :class:`LoadConfig`'s fields
    (``load.distributed_load`` shares them)."""
    add = parser.add_argument
    add("--sessions", type=int, default=20, help="concurrent connections (default 20)")
    add("--messages", type=int, default=1000, help="messages in total (default 1000)")
    add("--size", type=parse_size, default=5120, help="message bytes: 5120, 5k, 5KiB, 1M")
    add("--recipients", type=int, default=1, help="recipients per message (default 1)")
    add("--from", dest="mail_from", default="load@example.test", help="envelope sender")
    add(
        "--to",
        dest="to_pattern",
        default="user{n}@example.test",
        help="recipient pattern; {n} cycles over 0..to-count-1",
    )
    add("--to-count", type=int, default=10, help="distinct recipients (default 10)")
    add(
        "--messages-per-connection",
        type=int,
        default=None,
        help="QUIT and reconnect after this many (default: one connection per session)",
    )
    add("--timeout", type=float, default=30.0, help="seconds to wait for each reply")
    add("--deadline", type=float, default=300.0, help="seconds for the whole run")
    add(
        "--rate",
        type=float,
        default=None,
        help="offered messages per second (open loop: message i starts i/RATE s after the "
        "start; give enough --sessions to keep up); default: each session sends as fast as "
        "replies come",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k != "json"}
    try:
        config = LoadConfig(**options)
        loopback_address(config.host)
        message_factory(config).build(config.messages - 1)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2
    result = asyncio.run(run_load(config))
    print(json.dumps(result.as_json()) if args.json else result.summary())
    return 0 if result.accepted == config.messages else 1


if __name__ == "__main__":
    sys.exit(main())
