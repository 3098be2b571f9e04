"""A minimal SMTP client on asyncio streams, for load generation.

Owns the wire: writing command lines, reading (multi-line) replies under a timeout, and sending
DATA with RFC 5321 section 4.5.2 transparency (dot-stuffing). It makes no decisions about what a
reply means; ``load.smtp_load`` does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

__all__ = ["Reply", "SmtpClient", "SmtpProtocolError", "dot_stuff"]


class SmtpProtocolError(Exception):
    """The server sent something that is not an SMTP reply."""


@dataclass(frozen=True)
class Reply:
    code: int
    text: str


def dot_stuff(message: bytes) -> bytes:
    """Double every leading dot (RFC 5321 4.5.2), then add the end-of-data marker.

    ``message`` must end with CRLF, as every message from ``MessageFactory`` does.
    """
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"


class SmtpClient:
    """One SMTP connection: a command is a line written and a (multi-line) reply read."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout

    @classmethod
    async def open(cls, address: str, port: int, reply_timeout: float) -> tuple[SmtpClient, Reply]:
        """Connect and read the greeting."""
        async with asyncio.timeout(reply_timeout):
            reader, writer = await asyncio.open_connection(address, port)
        client = cls(reader, writer, reply_timeout)
        return client, await client.read_reply()

    async def read_reply(self) -> Reply:
        lines: list[str] = []
        async with asyncio.timeout(self._timeout):
            while True:
                line = await self._reader.readline()
                if not line:
                    raise ConnectionResetError("server closed the connection")
                if len(line) < 4 or not line[:3].isdigit() or line[3:4] not in b" -\r\n":
                    raise SmtpProtocolError(f"not an SMTP reply: {line[:80]!r}")
                lines.append(line[4:].decode("utf-8", "replace").strip())
                if line[3:4] != b"-":
                    return Reply(int(line[:3]), "\n".join(lines))

    async def command(self, line: str) -> Reply:
        self._writer.write(line.encode("ascii") + b"\r\n")
        return await self.read_reply()

    async def send_data(self, message: bytes) -> Reply:
        self._writer.write(dot_stuff(message))
        async with asyncio.timeout(self._timeout):
            await self._writer.drain()
        return await self.read_reply()

    async def quit(self) -> None:
        try:
            await self.command("QUIT")
        finally:
            self._writer.close()

    def abort(self) -> None:
        self._writer.transport.abort()
