"""The connection's reading of replies, against a real loopback server that says what the
test wants it to, byte for byte."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from mairust.outbound.smtp_types import ConnectionFailure, ConnectionLost, SmtpProtocolError
from mairust.outbound.smtp_wire import MAX_REPLY_LINES, PeerClosing, SmtpConnection

Talking = Callable[..., "asyncio.Task[SmtpConnection]"]


@pytest.fixture
async def talking() -> AsyncIterator[Talking]:
    """A server that sends the given bytes once a client connects, then stays open (or
    hangs up, with ``hang_up=True``)."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    def start(said: bytes, hang_up: bool = False) -> asyncio.Task[SmtpConnection]:
        async def connect() -> SmtpConnection:
            async def greet(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                writers.append(writer)
                writer.write(said)
                await writer.drain()
                if hang_up:
                    writer.close()

            server = await asyncio.start_server(greet, "127.0.0.1", 0)
            servers.append(server)
            port = server.sockets[0].getsockname()[1]
            return await SmtpConnection.connect("127.0.0.1", port, seconds=2)

        return asyncio.ensure_future(connect())

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()


async def test_a_multi_line_reply_split_across_packets(
    talking: Talking,
) -> None:
    connection = await talking(b"220-mx.test ESMTP\r\n220-second line\r\n220 ready\r\n")
    reply = await connection.read_reply(2, "greeting")
    assert (reply.code, reply.text) == (220, "mx.test ESMTP\nsecond line\nready")
    connection.abort()
    assert not connection.open


async def test_a_421_is_raised_wherever_it_comes(
    talking: Talking,
) -> None:
    connection = await talking(b"421 4.3.2 Service shutting down\r\n")
    with pytest.raises(PeerClosing) as closing:
        await connection.read_reply(2, "greeting")
    assert closing.value.reply.enhanced_code == "4.3.2"


async def test_silence_and_hang_ups_are_lost_connections(
    talking: Talking,
) -> None:
    silent = await talking(b"")
    with pytest.raises(ConnectionLost, match=r"within 0\.1 s"):
        await silent.read_reply(0.1, "greeting")
    half = await talking(b"220 partial", hang_up=True)
    with pytest.raises(ConnectionLost, match="connection closed"):
        await half.read_reply(2, "greeting")
    assert not half.open


async def test_garbage_and_endless_replies_are_protocol_errors(
    talking: Talking,
) -> None:
    garbage = await talking(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(SmtpProtocolError):
        await garbage.read_reply(2, "greeting")
    endless = await talking(b"220-more\r\n" * (MAX_REPLY_LINES + 1))
    with pytest.raises(SmtpProtocolError, match="more than"):
        await endless.read_reply(2, "greeting")


async def test_nothing_listening_is_a_connection_failure() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(ConnectionFailure) as failure:
        await SmtpConnection.connect("127.0.0.1", port, seconds=2)
    assert failure.value.enhanced_code == "4.4.1" and not failure.value.permanent
