"""The benchmark's blocklist DNS server: every query answered NXDOMAIN, by a real resolver
over UDP on loopback; what is no DNS query gets no answer."""

from __future__ import annotations

import asyncio
import contextlib

import dns.asyncresolver
import dns.resolver
import pytest

from load.nxdomain_dns import nxdomain_answer, serve
from load.targets import free_loopback_port


async def test_a_resolver_is_told_no_such_name() -> None:
    port = free_loopback_port()
    server = asyncio.create_task(serve(port))
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 2.0
    try:
        await asyncio.sleep(0.1)
        with pytest.raises(dns.resolver.NXDOMAIN):
            await resolver.resolve("1.0.0.127.bl.bench.test", "A")
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


def test_what_is_no_query_gets_no_answer() -> None:
    assert nxdomain_answer(b"\x00\x01garbage") is None
