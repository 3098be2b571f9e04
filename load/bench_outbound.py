"""The outbound delivery benchmark: messages per second from the first submission until the
destinations' MXs have answered 250 for all of them, for Postfix relaying and for ``mairust up``
(DKIM signing on; connection reuse on, then off), to the same sinks in the same run, and for
``load.bare_relay`` (aiosmtpd in, kept connections out, nothing else: the floor any Python
relay on aiosmtpd pays, so its ratio to Postfix is the most one can reach on this machine).

The destinations are ``load.sink_fleet``: ten counting smtp-sinks on 127.0.0.10-19 port 25
for the domains d0.test … d9.test, whose MX records the loopback DNS server serves (MaiRust
resolves them; Postfix is routed by a transport map, see ``load.postfix_relay_target``).
``load.smtp_load`` submits K messages (5 KiB, one recipient each, the domains in turn) over 20
sessions, each session keeping its connection (a submitting application's habit; with AUTH on
MaiRust's submission port, without on Postfix's loopback port, which trusts 127.0.0.0/8). A
run's figure is K over the time from the first submission until the sinks' counters have
grown by K; a warm-up run comes first, then ``--repeats`` runs, and a target's figure is their
median (with the minimum and maximum). After a target stops, the sinks must have counted
exactly what it accepted (nothing lost, nothing twice), and their session counters show the
connection reuse it achieved.

``python -m load.bench_outbound --markdown FILE`` (as root: port 25 and a private Postfix).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path

from load.mairust_outbound_target import (
    SENDER,
    SENDER_DOMAIN,
    Submission,
    mairust_outbound,
    outbound_config,
)
from load.mairust_target import mairust_binary
from load.message_factory import parse_size
from load.postfix_relay_target import postfix_relay
from load.reference import Spread, ratio
from load.sink_fleet import MAX_SINKS, SMTP_PORT, Counters, SinkFleet, destinations
from load.smtp_load import LoadConfig, run_load
from load.targets import (
    free_loopback_port,
    machine_line,
    start_target,
    stop_process,
    wait_for_greeting,
)

log = logging.getLogger("load.bench_outbound")

TARGETS = ("postfix", "bare-relay", "bare-relay-durable", "mairust", "mairust-no-reuse")
NAMES = {
    "postfix": "Postfix relay (queue on disk)",
    "bare-relay": "bare Python relay (aiosmtpd in, kept connections out)",
    "bare-relay-durable": "bare Python relay, each message fsync'd before its 250",
    "mairust": "mairust up (embedded), connection reuse on",
    "mairust-no-reuse": "mairust up (embedded), connection reuse off",
}
_DKIM_SIGNATURE = re.compile(rb"^DKIM-Signature:(.*(?:\n[ \t].*)*)", re.MULTILINE | re.IGNORECASE)
RECIPIENTS = "user{n}@d{n}.test"
# The sink whose transactions are dumped and read for DKIM signatures (d9.test: a tenth of the
# mail): every sink dumping costs the shared CPU ~10% of the end-to-end rate.
CHECKED_SINK = MAX_SINKS - 1  # recipient n goes to domain d{n}.test, n = 0..9 in turn
BARE_RELAY_NOTES = {
    False: "the floor for Python: load.bare_relay, nothing durable, no signing, no DNS, 250 "
    "after the sink's",
    True: "the floor for a durable Python relay: load.bare_relay --spool, each message in a "
    "file fsync'd before its 250, no signing, no DNS",
}

Start = Callable[[], AbstractAsyncContextManager[Submission]]


@dataclass(frozen=True)
class OutboundRun:
    messages: int = 3000
    sessions: int = 20
    size: int = 5120
    domains: int = MAX_SINKS
    warmup: int = 300
    repeats: int = 3
    deadline: float = 600.0  # seconds for one run: submission and delivery

    def load_config(self, submission: Submission, messages: int) -> LoadConfig:
        return LoadConfig(
            port=submission.port,
            sessions=self.sessions,
            messages=messages,
            size=self.size,
            mail_from=submission.mail_from,
            to_pattern=RECIPIENTS,
            to_count=self.domains,
            deadline=self.deadline,
            auth=submission.auth,
        )


@dataclass(frozen=True)
class RunFigures:
    """One run: messages accepted, seconds to submit them, seconds until the sinks had them."""

    accepted: int
    submitted_seconds: float
    delivered_seconds: float | None
    problem: str | None = None

    @property
    def rate(self) -> float | None:
        if self.problem is not None or not self.delivered_seconds:
            return None
        return self.accepted / self.delivered_seconds

    @property
    def submission_rate(self) -> float:
        return self.accepted / self.submitted_seconds if self.submitted_seconds > 0 else 0.0


@dataclass
class TargetResult:
    key: str
    name: str
    runs: list[RunFigures] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    sent: int = 0  # accepted by the target, warm-up included
    at_sinks: int | None = None  # what the sinks counted meanwhile
    sink_sessions: int | None = None
    checked: int | None = None  # messages at the dumping sink(s), whose headers were read
    signed: int | None = None  # of those, DKIM-signed by the sender's domain
    problem: str | None = None

    @property
    def end_to_end(self) -> Spread | None:
        return Spread.of([rate for run in self.runs if (rate := run.rate) is not None])

    @property
    def submission(self) -> Spread | None:
        # Shown even when delivery failed: how fast the target took the mail is still known.
        return Spread.of([run.submission_rate for run in self.runs if run.accepted > 0])


async def one_run(fleet: SinkFleet, config: LoadConfig, deadline: float) -> RunFigures:
    """Submit ``config.messages``; wait until the sinks have counted every accepted one."""
    base = fleet.messages()
    started = time.perf_counter()
    result = await run_load(config)
    submitted = time.perf_counter() - started
    if result.accepted < config.messages:
        failures = ", ".join(f"{code} x{n}" for code, n in sorted(result.failures.items()))
        problem = f"{config.messages - result.accepted} not accepted ({failures or 'deadline'})"
        return RunFigures(result.accepted, submitted, None, problem)
    arrived = await asyncio.to_thread(fleet.wait_for_messages, base + result.accepted, deadline)
    delivered = time.perf_counter() - started
    if not arrived:
        missing = base + result.accepted - fleet.messages()
        return RunFigures(result.accepted, submitted, None, f"{missing} not at the sinks")
    return RunFigures(result.accepted, submitted, delivered)


async def measure(key: str, start: Start, fleet: SinkFleet, run: OutboundRun) -> TargetResult:
    """Start the target, warm it up, run it ``run.repeats`` times, stop it, and compare what
    the sinks counted with what it accepted."""
    result = TargetResult(key, NAMES[key])
    before = fleet.counters()
    dumped = {sink.index: sink.dumped_bytes() for sink in fleet.sinks if sink.dump is not None}
    signing_domain: str | None = None
    try:
        async with start() as submission:
            result.notes = submission.notes
            signing_domain = submission.signing_domain
            for attempt in range(run.repeats + (1 if run.warmup else 0)):
                warmup = run.warmup and attempt == 0
                messages = run.warmup if warmup else run.messages
                figures = await one_run(fleet, run.load_config(submission, messages), run.deadline)
                if figures.problem is not None and submission.queue_state is not None:
                    state = await asyncio.to_thread(submission.queue_state)
                    figures = replace(figures, problem=f"{figures.problem} ({state})")
                result.sent += figures.accepted
                if not warmup:
                    result.runs.append(figures)
                log.info(
                    "%s: %s %s",
                    key,
                    "warm-up" if warmup else f"run {len(result.runs)}/{run.repeats}",
                    figures.problem or f"{figures.rate:.0f} msg/s end to end",
                )
                if figures.problem is not None:
                    result.problem = figures.problem
                    break
    except RuntimeError as error:
        result.problem = str(error)
    # Stopped: every session it had open is closed; the sinks count each once they read the
    # close, so wait until their counters are still (a late arrival would show too).
    after = await asyncio.to_thread(still_counters, fleet)
    result.at_sinks = sum(a.messages - b.messages for a, b in zip(after, before, strict=True))
    result.sink_sessions = sum(a.sessions - b.sessions for a, b in zip(after, before, strict=True))
    if result.problem is None and result.at_sinks != result.sent:
        # Fewer: lost (or still in its queue at stop); more: sent twice.
        result.problem = f"the sinks counted {result.at_sinks} of {result.sent} accepted"
    if dumped:
        # What the dumping sinks counted meanwhile is what their dumps must show.
        result.checked = sum(after[i].messages - before[i].messages for i in dumped)
        result.signed = await asyncio.to_thread(
            count_signed, fleet, dumped, SENDER_DOMAIN, result.checked
        )
        if result.problem is None and signing_domain and result.signed != result.checked:
            result.problem = f"{result.signed} of {result.checked} checked DKIM-signed"
    return result


def still_counters(fleet: SinkFleet, quiet: float = 0.3, timeout: float = 10.0) -> list[Counters]:
    """The sinks' counters once they have not changed for ``quiet`` seconds (or at timeout)."""
    give_up = time.monotonic() + timeout
    last = fleet.counters()
    while time.monotonic() < give_up:
        time.sleep(quiet)
        now = fleet.counters()
        if now == last:
            break
        last = now
    return last


def signed_by(transaction: bytes, domain: str) -> bool:
    """Whether a transaction smtp-sink dumped carries a DKIM-Signature with ``d=domain``."""
    header = transaction.split(b"\n\n", 1)[0]
    wanted = domain.lower().encode()
    for found in _DKIM_SIGNATURE.finditer(header):
        tags = dict(
            tag.split(b"=", 1)
            for tag in re.sub(rb"\s+", b"", found.group(1)).split(b";")
            if b"=" in tag
        )
        if tags.get(b"d", b"").lower() == wanted:
            return True
    return False


def count_signed(
    fleet: SinkFleet, dumped: Mapping[int, int], domain: str, expected: int, timeout: float = 10.0
) -> int:
    """Transactions dumped by sink ``i`` after byte ``dumped[i]`` that are DKIM-signed by
    ``domain``, once ``expected`` of them are in the dumps (they trail the counters by a
    moment), or at ``timeout``."""
    give_up = time.monotonic() + timeout
    while True:
        transactions = [
            transaction
            for index, since in dumped.items()
            for transaction in fleet.sinks[index].transactions(since)
        ]
        if len(transactions) >= expected or time.monotonic() > give_up:
            return sum(signed_by(transaction, domain) for transaction in transactions)
        time.sleep(0.05)


def starts(
    fleet: SinkFleet,
    dns_port: int,
    binary: str | None,
    startup: float,
    overrides: Sequence[str] = (),
    sign: bool = True,
) -> dict[str, Start]:
    @contextlib.asynccontextmanager
    async def postfix():  # type: ignore[no-untyped-def]
        port = free_loopback_port()
        with postfix_relay(port, fleet):
            yield Submission(port, SENDER, notes=("Postfix defaults, transport_maps",))

    def mairust(messages_per_connection: int | None) -> Start:
        def start() -> AbstractAsyncContextManager[Submission]:
            if binary is None:
                raise RuntimeError("no mairust command found (.venv/bin/mairust or PATH)")
            return mairust_outbound(
                binary, dns_port, fleet.port, messages_per_connection, startup, overrides, sign
            )

        return start

    def bare_relay(durable: bool) -> Start:
        @contextlib.asynccontextmanager
        async def start():  # type: ignore[no-untyped-def]
            port = free_loopback_port()
            routes = [f"--route={sink.domain}={sink.address}:{sink.port}" for sink in fleet.sinks]
            command = [sys.executable, "-m", "load.bare_relay", "--port", str(port), *routes]
            with tempfile.TemporaryDirectory(prefix="bare-relay-spool-") as spool:
                if durable:  # on the disk, as Postfix's queue is (not /dev/shm)
                    command += ["--spool", spool]
                process = start_target(command, subprocess.DEVNULL)
                try:
                    await wait_for_greeting(port, process, within_seconds=startup)
                    yield Submission(port, SENDER, notes=(BARE_RELAY_NOTES[durable],))
                finally:
                    stop_process(process)

        return start

    return {
        "postfix": postfix,
        "bare-relay": bare_relay(durable=False),
        "bare-relay-durable": bare_relay(durable=True),
        "mairust": mairust(None),
        "mairust-no-reuse": mairust(1),
    }


def _rate(spread: Spread | None) -> str:
    if spread is None:
        return "-"
    return f"{spread.median:.0f} ({spread.minimum:.0f}-{spread.maximum:.0f})"


def markdown(results: Sequence[TargetResult], run: OutboundRun) -> str:
    baseline = next((r.end_to_end for r in results if r.key == "postfix"), None)
    rows = [
        f"{run.messages} messages a run ({run.size} bytes, 1 recipient, {run.domains} domains), "
        f"{run.sessions} submitting sessions, warm-up {run.warmup}, {run.repeats} runs: median "
        "(min-max).",
        "",
        "| target | end-to-end msg/s | ratio to Postfix | submission msg/s | messages per sink "
        "session | at the sinks / accepted | DKIM-signed / checked | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        share = ratio(result.end_to_end, baseline)
        per_session = (
            f"{result.at_sinks / result.sink_sessions:.1f}"
            if result.at_sinks and result.sink_sessions
            else "-"
        )
        notes = "; ".join(result.notes)
        if result.problem is not None:
            notes = f"**{result.problem}**" + (f"; {notes}" if notes else "")
        rows.append(
            f"| {result.name} | {_rate(result.end_to_end)} | "
            f"{'-' if share is None else f'{share:.2f}'} | {_rate(result.submission)} | "
            f"{per_session} | {result.at_sinks} / {result.sent} | "
            f"{'-' if result.signed is None else f'{result.signed} / {result.checked}'} | "
            f"{notes.replace('|', '/')} |"
        )
    return "\n".join(rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m load.bench_outbound", description=__doc__)
    add = parser.add_argument
    add("--messages", type=int, default=3000, help="messages a run (default 3000)")
    add("--sessions", type=int, default=20, help="submitting sessions (default 20)")
    add("--size", type=parse_size, default=5120, help="message size (default 5 KiB)")
    add("--warmup", type=int, default=300, help="warm-up messages (default 300; 0: none)")
    add("--repeats", type=int, default=3, help="measured runs a target (default 3)")
    add("--deadline", type=float, default=600.0, help="seconds for one run (default 600)")
    add("--targets", default=",".join(TARGETS), help=f"comma-separated of {', '.join(TARGETS)}")
    add("--sink-port", type=int, default=SMTP_PORT, help="the sinks' port (25; 0: a free one)")
    add("--mairust", default=None, help="the mairust command (default .venv/bin/mairust)")
    add("--startup-timeout", type=float, default=180.0, help="seconds for mairust up to start")
    add(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a mairust setting for both MaiRust targets, VALUE in TOML (outbound.workers=2, "
        'outbound.tls="off"); repeat for more',
    )
    add(
        "--no-dkim",
        dest="sign",
        action="store_false",
        help="no DKIM key for the MaiRust targets (what signing costs; not the issue's figure)",
    )
    add("--markdown", type=Path, default=None, help="also write the table to this file")
    return parser


def dump_parent() -> Path | None:
    """Where the sinks dump every transaction (to check signatures): memory, not the disk
    where Postfix fsyncs its queue."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() else None


def outbound_run(args: argparse.Namespace) -> OutboundRun:
    return OutboundRun(
        messages=args.messages,
        sessions=args.sessions,
        size=args.size,
        warmup=args.warmup,
        repeats=args.repeats,
        deadline=args.deadline,
    )


async def bench(args: argparse.Namespace, targets: Sequence[str]) -> list[TargetResult]:
    run = outbound_run(args)
    binary = mairust_binary(args.mairust)
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="outbound-sinks-", dir=dump_parent()) as tmp,
        destinations(MAX_SINKS, args.sink_port or None, Path(tmp), dump=[CHECKED_SINK]) as (
            fleet,
            zone,
        ),
    ):
        available = starts(
            fleet, zone.port, binary, args.startup_timeout, args.overrides, args.sign
        )
        for key in targets:
            results.append(await measure(key, available[key], fleet, run))
            print(f"{NAMES[key]}: {_rate(results[-1].end_to_end)} msg/s end to end", flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = _parser()
    args = parser.parse_args(argv)
    targets = [key.strip() for key in args.targets.split(",") if key.strip()]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or not targets:
        parser.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    try:
        outbound_config(0, 0, None, args.overrides)
    except ValueError as error:
        parser.error(str(error))
    load_before = os.getloadavg()[0]
    results = asyncio.run(bench(args, targets))
    command = shlex.join(["python", "-m", "load.bench_outbound", *(argv or sys.argv[1:])])
    table = markdown(results, outbound_run(args))
    report = f"{machine_line(load_before)}\n\n`{command}`\n\n{table}\n"
    print(report)
    if args.markdown is not None:
        args.markdown.write_text(report)
    return 0 if all(result.problem is None for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
