"""A DNS server on loopback that answers every query "no such name" (NXDOMAIN), at once,
for the hooks benchmark's ``dnsbl`` plugin: the common case of a blocklist lookup is a
client that is not listed, so this is what each connection costs it when the list answers
quickly. Run it in its own process: ``python -m load.nxdomain_dns --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import cast

import dns.exception
import dns.message
import dns.rcode

log = logging.getLogger("load.nxdomain_dns")


def nxdomain_answer(query: bytes) -> bytes | None:
    """The NXDOMAIN answer to the wire-format ``query``; None for what is no DNS query."""
    try:
        asked = dns.message.from_wire(query)
    except dns.exception.DNSException:
        return None
    answer = dns.message.make_response(asked)
    answer.set_rcode(dns.rcode.NXDOMAIN)
    return answer.to_wire()


class _Responder(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport (asyncio's own class does not subclass it).
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = nxdomain_answer(data)
        if answer is not None:
            self._transport.sendto(answer, addr)


async def serve(port: int) -> None:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        _Responder, local_addr=("127.0.0.1", port)
    )
    log.info("NXDOMAIN DNS server on 127.0.0.1:%d (udp)", port)
    try:
        await asyncio.Event().wait()
    finally:
        transport.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m load.nxdomain_dns",
        description="A DNS server on 127.0.0.1 (UDP) answering every query NXDOMAIN at "
        "once: a blocklist in which no client is listed, for the hooks benchmark. Stops on "
        "Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--port", type=int, required=True, help="the loopback UDP port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
