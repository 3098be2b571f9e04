"""One SMTP client connection on asyncio streams: command lines out, replies in.

Owns the bytes and the clock, nothing about what a reply means: connecting (from a chosen
local address), writing lines, reading (multi-line) replies under a deadline, the STARTTLS
upgrade of the stream, QUIT and close. A 421 is raised as :class:`PeerClosing` wherever it
comes (RFC 5321 §3.8: the server is going away), so the session above decides once what a
closing peer does to the recipients it had not answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from mairust.outbound.smtp_types import ConnectionFailure, ConnectionLost, Reply, SmtpProtocolError

MAX_REPLY_LINES = 100
_CLOSE_SECONDS = 2.0


class PeerClosing(Exception):
    """A 421 arrived: the peer is closing the connection."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(str(reply))
        self.reply = reply


class SmtpConnection:
    """An open TCP (maybe TLS) connection to an SMTP server; use :meth:`connect`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.closed = False

    @classmethod
    async def connect(
        cls, address: str, port: int, *, seconds: float, local_address: str | None = None
    ) -> SmtpConnection:
        """ConnectionFailure if no connection is made within ``seconds``."""
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(seconds):
                reader, writer = await asyncio.open_connection(address, port, local_addr=local)
        except (OSError, TimeoutError) as exc:
            raise ConnectionFailure(f"cannot connect: {exc or 'timed out'}") from exc
        return cls(reader, writer)

    @classmethod
    async def connect_unix(cls, path: str, *, seconds: float) -> SmtpConnection:
        """The same over a unix socket (an LMTP server's); ConnectionFailure as above."""
        try:
            async with asyncio.timeout(seconds):
                reader, writer = await asyncio.open_unix_connection(path)
        except (OSError, TimeoutError) as exc:
            raise ConnectionFailure(f"cannot connect to {path}: {exc or 'timed out'}") from exc
        return cls(reader, writer)

    @property
    def open(self) -> bool:
        """Neither closed here nor by the peer (an idle server may have hung up)."""
        return not self.closed and not self._reader.at_eof()

    def write(self, *lines: str) -> None:
        """Queue command lines; they leave with the next read (or :meth:`drain`)."""
        # UTF-8 only reaches here for SMTPUTF8 peers (wire_format refused the others).
        self._writer.write("".join(f"{line}\r\n" for line in lines).encode("utf-8"))

    def write_bytes(self, data: bytes) -> None:
        self._writer.write(data)

    async def drain(self, seconds: float) -> None:
        async with asyncio.timeout(seconds):
            await self._writer.drain()

    async def command(self, line: str, seconds: float) -> Reply:
        self.write(line)
        return await self.read_reply(seconds, line.split(" ")[0])

    async def read_reply(self, seconds: float, what: str) -> Reply:
        """The next reply (after sending what is queued). ConnectionLost on a timeout or
        a closed connection, SmtpProtocolError on garbage, PeerClosing on a 421."""
        lines: list[str] = []
        try:
            async with asyncio.timeout(seconds):
                await self._writer.drain()
                while len(lines) < MAX_REPLY_LINES:
                    raw = await self._reader.readline()
                    if not raw.endswith(b"\n"):
                        raise ConnectionLost(f"connection closed waiting for the {what} reply")
                    line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                    lines.append(line)
                    if line[3:4] != "-":
                        break
                else:
                    raise SmtpProtocolError(f"a reply of more than {MAX_REPLY_LINES} lines")
        except TimeoutError as exc:
            raise ConnectionLost(f"no {what} reply within {seconds:g} s") from exc
        except ValueError as exc:  # a line over the reader's limit
            raise SmtpProtocolError(f"an overlong {what} reply line") from exc
        except OSError as exc:
            raise ConnectionLost(f"connection lost waiting for the {what} reply: {exc}") from exc
        reply = Reply.parse(lines)
        if reply.code == 421:
            raise PeerClosing(reply)
        return reply

    async def start_tls(
        self, context: ssl.SSLContext, *, server_hostname: str | None, seconds: float
    ) -> None:
        """Upgrade the stream after a 220 to STARTTLS (ssl.SSLError/OSError/TimeoutError
        when the handshake fails)."""
        await self._writer.start_tls(
            context, server_hostname=server_hostname, ssl_handshake_timeout=seconds
        )

    def abort(self) -> None:
        """Drop the connection at once: the peer is gone or the stream is unusable."""
        self.closed = True
        self._writer.transport.abort()

    async def close(self, seconds: float) -> None:
        """QUIT politely when still open, then close; never raises."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await self.command("QUIT", min(seconds, _CLOSE_SECONDS))
        self._writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_SECONDS):
                await self._writer.wait_closed()
