"""reply_and_close writes its line on asyncio's and on uvloop's transports (Ray's actors)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
import uvloop

from mairust.smtp.transports import reply_and_close

REPLY = "421 4.3.2 Service shutting down"


class ReplyAtOnce(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        reply_and_close(transport, REPLY)


async def received_by_a_client() -> bytes:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(ReplyAtOnce, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    def read_all() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            data = b""
            while chunk := conn.recv(512):
                data += chunk
            return data

    try:
        return await asyncio.to_thread(read_all)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "new_loop", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_the_reply_reaches_the_client_then_the_connection_closes(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    with asyncio.Runner(loop_factory=new_loop) as runner:
        assert runner.run(received_by_a_client()) == REPLY.encode() + b"\r\n"
