"""The floor under outbound delivery in Python: a relay that takes each message with aiosmtpd
and hands it to its destination over kept connections, and does nothing else.

No signing, no DNS (routes are given), no logging, no policy: what any Python MTA built on
aiosmtpd must at least spend to receive a message and send it on. The outbound benchmark
runs it, without and with its spool, beside Postfix and ``mairust up`` to the same sinks, so
the ratios it reaches bound what a Python relay can reach on this machine's cores.

It answers DATA only after the destination's 250 (an in-line relay: with no queue, a 250
before that would be a promise it could not keep), one transaction per destination per
message. With ``--spool DIR`` it keeps the promise as an MTA does instead: the message is
written to a file and fsync'd before the 250 (as Postfix's queue files are), relayed after,
and the file removed once the destination has it; that is the least a durable relay pays.
Connections to a destination are kept and reused; the client pipelines MAIL, RCPT and DATA
in one write (RFC 2920), as the sinks offer PIPELINING. One process, on uvloop when it is
installed (as Ray's actors run).

``python -m load.bare_relay --port PORT --route d0.test=127.0.0.10:25 [--route ...]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import signal
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

_LINE_START_DOT = re.compile(rb"^\.", re.MULTILINE)


class SmtpReplyError(Exception):
    """The destination answered something other than what the step needs."""


class Connection:
    """One kept SMTP client connection to a destination."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        connection = cls(reader, writer)
        await connection._expect(220)
        writer.write(b"EHLO bare-relay.test\r\n")
        await connection._expect(250)
        return connection

    async def _reply(self) -> int:
        """The code of the next (possibly multi-line) reply."""
        while True:
            line = await self._reader.readline()
            if len(line) < 4:
                raise SmtpReplyError(f"connection closed or bad reply: {line!r}")
            if line[3:4] != b"-":
                return int(line[:3])

    async def _expect(self, code: int) -> None:
        got = await self._reply()
        if got != code:
            raise SmtpReplyError(f"expected {code}, got {got}")

    async def send(self, mail_from: str, recipients: Sequence[str], content: bytes) -> None:
        """One transaction: envelope and DATA pipelined, then the dot-stuffed content."""
        commands = [f"MAIL FROM:<{mail_from}>\r\n".encode()]
        commands += [f"RCPT TO:<{recipient}>\r\n".encode() for recipient in recipients]
        self._writer.write(b"".join(commands) + b"DATA\r\n")
        await self._expect(250)
        for _ in recipients:
            await self._expect(250)
        await self._expect(354)
        body = _LINE_START_DOT.sub(b"..", content)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self._writer.write(body + b".\r\n")
        await self._expect(250)

    def close(self) -> None:
        self._writer.close()


class ConnectionPool:
    """Idle connections per destination; a connection that failed is not put back."""

    def __init__(self, routes: dict[str, tuple[str, int]]) -> None:
        self._routes = routes
        self._idle: dict[str, list[Connection]] = {domain: [] for domain in routes}

    def routes_to(self, domain: str) -> bool:
        return domain in self._routes

    @contextlib.asynccontextmanager
    async def connection(self, domain: str) -> AsyncIterator[Connection]:
        idle = self._idle[domain]
        connection = idle.pop() if idle else await Connection.open(*self._routes[domain])
        try:
            yield connection
        except BaseException:
            connection.close()
            raise
        idle.append(connection)


class RelayHandler:
    """aiosmtpd's handler: each message to its recipients' destinations, in line; or, with a
    ``spool`` directory, written there and fsync'd first, answered 250, and relayed after
    (the file removed once relayed; a failed relay is tried again a second later)."""

    def __init__(self, pool: ConnectionPool, spool: Path | None = None) -> None:
        self._pool = pool
        self._spool = spool
        self._written = itertools.count()
        self._relaying: set[asyncio.Task[None]] = set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if not self._pool.routes_to(_domain(address)):
            return "550 5.1.2 no route to this domain"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mail_from, recipients = envelope.mail_from or "", list(envelope.rcpt_tos)
        content = envelope.original_content or b""
        if self._spool is None:
            try:
                await self._relay(mail_from, recipients, content)
            except (OSError, SmtpReplyError) as error:
                return f"451 4.4.1 not relayed: {error}"
            return "250 2.0.0 relayed"
        path = self._spool / f"{next(self._written)}.eml"
        try:
            await asyncio.to_thread(_write_synced, path, content)
        except OSError as error:
            return f"451 4.3.0 not queued: {error}"
        task = asyncio.create_task(self._relay_queued(path, mail_from, recipients, content))
        self._relaying.add(task)
        task.add_done_callback(self._relaying.discard)
        return "250 2.0.0 queued"

    async def _relay(self, mail_from: str, recipients: list[str], content: bytes) -> None:
        by_domain: dict[str, list[str]] = {}
        for recipient in recipients:
            by_domain.setdefault(_domain(recipient), []).append(recipient)
        for domain, theirs in by_domain.items():
            async with self._pool.connection(domain) as connection:
                await connection.send(mail_from, theirs, content)

    async def _relay_queued(
        self, path: Path, mail_from: str, recipients: list[str], content: bytes
    ) -> None:
        while True:
            try:
                await self._relay(mail_from, recipients, content)
            except (OSError, SmtpReplyError):
                await asyncio.sleep(1.0)
                continue
            await asyncio.to_thread(path.unlink)
            return


def _write_synced(path: Path, content: bytes) -> None:
    """The message on disk before its 250, as an MTA's queue file is (fsync'd)."""
    with path.open("wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def _route(text: str) -> tuple[str, tuple[str, int]]:
    domain, _, target = text.partition("=")
    host, _, port = target.rpartition(":")
    if not domain or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not DOMAIN=HOST:PORT")
    return domain.lower(), (host, int(port))


async def serve(port: int, routes: dict[str, tuple[str, int]], spool: Path | None) -> None:
    loop = asyncio.get_running_loop()
    handler = RelayHandler(ConnectionPool(routes), spool)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="bare-relay.test"),
        host="127.0.0.1",
        port=port,
    )
    stopped = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    async with server:
        await stopped.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.bare_relay", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="listen on 127.0.0.1:PORT")
    parser.add_argument(
        "--route",
        type=_route,
        action="append",
        required=True,
        metavar="DOMAIN=HOST:PORT",
        help="where mail for DOMAIN goes (repeat for each destination)",
    )
    parser.add_argument(
        "--spool",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each message to DIR and fsync it before the 250, relay it after "
        "(default: relay in line, 250 after the destination's)",
    )
    args = parser.parse_args(argv)
    routes = dict(args.route)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, routes, args.spool))
    else:
        uvloop.run(serve(args.port, routes, args.spool))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
