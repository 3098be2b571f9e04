"""The destinations of outbound mail on loopback: a fleet of counting Postfix ``smtp-sink``s,
one per destination domain, and the DNS records that make each domain's MX point at its sink.

Sink ``i`` listens on ``127.0.0.(10+i):PORT`` (port 25 as root: every MX is reached on one
port, as on the Internet) and stands for the domain ``d{i}.test``, whose MX is
``mx{i}.d{i}.test`` with the A record ``127.0.0.(10+i)``. :func:`zone_records` gives those
records in the form ``tests.support.dns_server.ZoneServer`` serves (the one loopback DNS server
of the tests and of the benchmarks).

Counting is ``smtp-sink -c``: it rewrites ``sess=S quit=Q mesg=M`` (CR-separated) on its
standard output whenever a message's final dot arrives, a QUIT is read or a session ends; one
process serves every connection, so the last counters are exact. ``mesg`` is the number of
mail transactions completed (each a 250), ``sess`` the sessions ended: messages over
sessions is the connection reuse a client achieved. With ``dump=True`` each sink (or with a
collection of indexes, those sinks) also appends every transaction to a file (``-D``; more
work for the sink: for tests and checks that must see recipients, headers and Message-IDs,
such as a count of duplicates; the counters trail nothing, a dump may trail the counters).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import pwd
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load.targets import LISTEN_PORTS, start_target, stop_process

log = logging.getLogger("load.sink_fleet")

SMTP_SINK = "/usr/sbin/smtp-sink"
FIRST_ADDRESS = ipaddress.IPv4Address("127.0.0.10")
MAX_SINKS = 10  # 127.0.0.10 .. 127.0.0.19
SMTP_PORT = 25
BACKLOG = "1000"
SINK_USER = "nobody"  # smtp-sink runs as root only long enough to bind
_COUNTERS = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)")
_RCPT_ARGS = re.compile(rb"^X-Rcpt-Args: <([^>]*)>", re.MULTILINE | re.IGNORECASE)
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]*>)", re.MULTILINE | re.IGNORECASE)
_DUMP_START = "\\n--- smtp-sink transaction ---\\n"  # -S: \n is expanded by smtp-sink
_DUMP_SEPARATOR = b"\n--- smtp-sink transaction ---\n"


def destination_domain(index: int) -> str:
    return f"d{index}.test"


def mx_host(index: int) -> str:
    return f"mx{index}.{destination_domain(index)}"


def sink_address(index: int) -> str:
    return str(FIRST_ADDRESS + index)


@dataclass(frozen=True)
class Counters:
    """One sink's counters: sessions ended, QUIT commands read, messages received."""

    sessions: int = 0
    quits: int = 0
    messages: int = 0


@dataclass
class Sink:
    """One counting smtp-sink: the destination ``domain`` whose MX is ``address``:``port``."""

    index: int
    address: str
    port: int
    output: Path
    dump: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    # What the readiness probe left: counters() report what came after it.
    baseline: Counters = field(default_factory=Counters)

    @property
    def domain(self) -> str:
        return destination_domain(self.index)

    @property
    def mx(self) -> str:
        return mx_host(self.index)

    def raw_counters(self) -> Counters:
        """The last counters it wrote (all zero before its first message or session)."""
        with contextlib.suppress(OSError), self.output.open("rb") as output:
            output.seek(max(0, self.output.stat().st_size - 256))
            found = _COUNTERS.findall(output.read())
            if found:
                sessions, quits, messages = (int(value) for value in found[-1])
                return Counters(sessions, quits, messages)
        return Counters()

    def counters(self) -> Counters:
        """What the sink counted since the fleet was ready."""
        raw, base = self.raw_counters(), self.baseline
        return Counters(
            raw.sessions - base.sessions, raw.quits - base.quits, raw.messages - base.messages
        )

    def messages(self) -> int:
        return self.counters().messages

    def dumped_bytes(self) -> int:
        """The dump file's size now: ``transactions(since=...)`` reads what comes after."""
        if self.dump is None:
            raise RuntimeError("this sink was started without a dump")
        return self.dump.stat().st_size if self.dump.exists() else 0

    def transactions(self, since: int = 0) -> list[bytes]:
        """Every transaction dumped (``dump=True``) after byte ``since`` of the dump file, as
        smtp-sink wrote it (LF line ends): its X-Client/X-Mail/X-Rcpt-Args lines, a Received:
        header, then the message."""
        if self.dump is None:
            raise RuntimeError("this sink was started without a dump")
        if not self.dump.exists():
            return []
        with self.dump.open("rb") as dump:
            dump.seek(since)
            return [part for part in dump.read().split(_DUMP_SEPARATOR) if part.strip()]

    def recipients(self) -> list[str]:
        """The RCPT TO addresses of every transaction received (``dump=True``)."""
        return [
            rcpt.decode("utf-8", "replace")
            for part in self.transactions()
            for rcpt in _RCPT_ARGS.findall(part)
        ]

    def message_ids(self) -> list[str]:
        """The Message-ID of every message received, repeats included (``dump=True``)."""
        ids = (_MESSAGE_ID.search(part) for part in self.transactions())
        return [found.group(1).decode("utf-8", "replace") for found in ids if found]


@dataclass
class SinkFleet:
    sinks: list[Sink] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.sinks[0].port

    @property
    def domains(self) -> list[str]:
        return [sink.domain for sink in self.sinks]

    def counters(self) -> list[Counters]:
        return [sink.counters() for sink in self.sinks]

    def messages(self) -> int:
        """Messages received by all the sinks."""
        return sum(counters.messages for counters in self.counters())

    def sessions(self) -> int:
        """Sessions ended at all the sinks."""
        return sum(counters.sessions for counters in self.counters())

    def wait_for_messages(self, total: int, timeout: float, interval: float = 0.02) -> bool:
        """True once the sinks have received ``total`` messages in all; False at ``timeout``."""
        give_up = time.monotonic() + timeout
        while self.messages() < total:
            if time.monotonic() > give_up:
                return False
            time.sleep(interval)
        return True

    def wait_for_sessions(self, total: int, timeout: float, interval: float = 0.02) -> bool:
        """True once the sinks have seen ``total`` sessions end (a session is counted when
        the sink reads the client's close, a moment after the client's QUIT)."""
        give_up = time.monotonic() + timeout
        while self.sessions() < total:
            if time.monotonic() > give_up:
                return False
            time.sleep(interval)
        return True

    def sink_for(self, domain: str) -> Sink:
        for sink in self.sinks:
            if sink.domain == domain.lower():
                return sink
        raise KeyError(domain)


def zone_records(fleet: SinkFleet | int, ttl: int = 86_400) -> dict[str, dict[str, Any]]:
    """DNS records for the fleet's domains (``ZoneServer``'s form): ``d{i}.test MX 10
    mx{i}.d{i}.test`` and ``mx{i}.d{i}.test A 127.0.0.(10+i)``. An int gives the records of
    that many sinks without a fleet."""
    count = fleet if isinstance(fleet, int) else len(fleet.sinks)
    records: dict[str, dict[str, Any]] = {}
    for index in range(count):
        records[destination_domain(index)] = {"MX": [(10, mx_host(index))], "TTL": ttl}
        records[mx_host(index)] = {"A": [sink_address(index)], "TTL": ttl}
    return records


def _bindable(addresses: Sequence[str], port: int) -> bool:
    for address in addresses:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                return False
    return True


def free_fleet_port(addresses: Sequence[str]) -> int:
    """A port free on every one of ``addresses`` (from ``LISTEN_PORTS``, tried in a
    pseudo-random order so parallel test runs do not collide)."""
    start = int.from_bytes(os.urandom(2), "big")
    size = len(LISTEN_PORTS)
    for offset in range(200):
        port = LISTEN_PORTS[(start + offset * 7919) % size]
        if _bindable(addresses, port):
            return port
    raise OSError(f"no port in {LISTEN_PORTS} free on all of {', '.join(addresses)}")


def _wait_listening(sink: Sink, timeout: float) -> int:
    """Until the sink greets a connection; return how many connections it took (each one a
    session the sink counts once it is closed)."""
    assert sink.process is not None
    give_up = time.monotonic() + timeout
    connected = 0
    while True:
        if sink.process.poll() is not None:
            raise RuntimeError(
                f"smtp-sink on {sink.address}:{sink.port} exited with status "
                f"{sink.process.returncode}: {sink.output.read_text(errors='replace')[-300:]}"
            )
        try:
            with socket.create_connection((sink.address, sink.port), timeout=1) as probe:
                connected += 1
                if probe.recv(512).startswith(b"220"):
                    return connected
        except OSError:
            pass  # not listening yet, or no greeting within the second
        if time.monotonic() > give_up:
            raise RuntimeError(
                f"smtp-sink on {sink.address}:{sink.port} not greeting in {timeout:.0f} s"
            )
        time.sleep(0.02)


@contextlib.contextmanager
def sink_fleet(
    count: int = MAX_SINKS,
    port: int | None = SMTP_PORT,
    directory: Path | None = None,
    *,
    dump: bool | Collection[int] = False,
    hostname: str = "sink.test",
    start_timeout: float = 15.0,
) -> Iterator[SinkFleet]:
    """``count`` counting smtp-sinks on 127.0.0.10.. for the life of the block, all on
    ``port`` (25 needs root; None: a port free on every address, for tests that run beside
    others). Counters start at zero (the readiness probe's session is waited out and not
    counted: ``counters()`` report what came after it). Each is stopped with SIGTERM on the
    way out and its files (in ``directory``, default a temporary one) removed."""
    if not 1 <= count <= MAX_SINKS:
        raise ValueError(f"a fleet has 1 to {MAX_SINKS} sinks (127.0.0.10-19)")
    addresses = [sink_address(index) for index in range(count)]
    chosen = free_fleet_port(addresses) if port is None else port
    # smtp-sink refuses to run as root without a user to switch to after binding.
    user = ["-u", SINK_USER] if os.geteuid() == 0 else []
    with contextlib.ExitStack() as stack:
        workdir = directory or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        dumps = workdir / "sink-dumps"
        dumping = set(range(count)) if dump is True else set(dump or ())
        if dumping:
            # smtp-sink writes each transaction to a file of its own in the dump file's
            # folder (then appends it), as the user it switched to: the folder is theirs.
            workdir.chmod(workdir.stat().st_mode | 0o111)
            dumps.mkdir()
            if user:
                nobody = pwd.getpwnam(SINK_USER)
                os.chown(dumps, nobody.pw_uid, nobody.pw_gid)
        fleet = SinkFleet()
        try:
            for index, address in enumerate(addresses):
                sink = Sink(index, address, chosen, workdir / f"sink-{index}.counters")
                dump_args: list[str] = []
                if index in dumping:
                    sink.dump = dumps / f"sink-{index}.dump"
                    dump_args = ["-D", str(sink.dump), "-S", _DUMP_START]
                args = [
                    SMTP_SINK, *user, "-c", *dump_args, "-h", hostname,
                    f"{address}:{chosen}", BACKLOG,
                ]  # fmt: skip
                output = stack.enter_context(sink.output.open("wb"))
                sink.process = start_target(args, output)
                fleet.sinks.append(sink)
            for sink in fleet.sinks:
                probes = _wait_listening(sink, start_timeout)
                sink.baseline = _probes_counted(sink, probes, start_timeout)
            yield fleet
        finally:
            for sink in fleet.sinks:
                if sink.process is not None:
                    stop_process(sink.process, grace=10)


@contextlib.contextmanager
def destinations(
    count: int = MAX_SINKS,
    port: int | None = SMTP_PORT,
    directory: Path | None = None,
    *,
    dump: bool | Collection[int] = False,
    records: Mapping[str, Mapping[str, Any]] | None = None,
    **zone_options: Any,
) -> Iterator[tuple[SinkFleet, Any]]:
    """A fleet and the loopback DNS server (``tests.support.dns_server.ZoneServer``) serving
    its MX records, plus ``records`` (a null MX, say), for the life of the block: point a
    resolver at 127.0.0.1 port ``zone.port`` and deliver to port ``fleet.port``.
    ``zone_options`` go to ``ZoneServer`` (``servfail_names``, ``timeout_names``, ...)."""
    from tests.support.dns_server import ZoneServer  # the one loopback DNS server

    with sink_fleet(count, port, directory, dump=dump) as fleet:
        served = {**zone_records(fleet), **(records or {})}
        with ZoneServer(served, **zone_options) as zone:
            yield fleet, zone


def _probes_counted(sink: Sink, probes: int, timeout: float) -> Counters:
    """The counters once the sink has counted the readiness probes' sessions as ended."""
    give_up = time.monotonic() + timeout
    while (counters := sink.raw_counters()).sessions < probes:
        if time.monotonic() > give_up:
            raise RuntimeError(f"smtp-sink on {sink.address}: probe sessions not counted")
        time.sleep(0.01)
    return counters
