"""Idle sessions kept for the next batch: reused while they answer and have room, closed
past their idle time, and a peer that hung up meanwhile costs no message a deferral — all
against a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from mairust.auth.dns_resolver import CachingResolver
from mairust.outbound.session_cache import SessionCache
from mairust.outbound.smtp_sender import SmtpDestinationSender
from tests.mairust.outbound.test_smtp_sender import SETTINGS, item, outgoing, port_free_on
from tests.support.dns_server import ZoneServer
from tests.support.scripted_smtp import Script, ScriptedSmtpServer

MX = "127.0.0.13"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> Iterator[tuple[CachingResolver, int, ScriptedSmtpServer]]:
    port = port_free_on(MX)
    zone: dict[str, dict[str, Any]] = {
        "far.test": {"MX": [(10, "mx.far.test")]},
        "mx.far.test": {"A": [MX]},
    }
    with ZoneServer(zone) as dns, ScriptedSmtpServer(Script(), address=MX, port=port) as server:
        yield CachingResolver(["127.0.0.1"], port=dns.port, timeout=1.0), port, server


async def test_batches_share_one_session_until_it_has_carried_its_most(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
) -> None:
    resolver, port, server = world
    cache = SessionCache(idle_seconds=30, max_messages=3, clock=Clock())
    sender = SmtpDestinationSender(resolver, SETTINGS, port=port, cache=cache)
    for n in range(4):
        replies = await sender.send(
            "far.test", None, [outgoing(item(n, f"r{n}@far.test", f"m{n}"))]
        )
        assert replies[n].delivered
    # Three messages over the first session (then it had carried its most), one more.
    assert [len(s.messages) for s in server.sessions] == [3, 1]
    assert cache.reused == 2 and len(cache) == 1
    await sender.aclose()
    assert len(cache) == 0


async def test_an_idle_session_is_closed_past_its_time(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
) -> None:
    resolver, port, server = world
    clock = Clock()
    cache = SessionCache(idle_seconds=5, max_messages=100, clock=clock)
    sender = SmtpDestinationSender(resolver, SETTINGS, port=port, cache=cache)
    await sender.send("far.test", None, [outgoing(item(1, "a@far.test"))])
    clock.now += 6
    await sender.close_idle()
    assert len(cache) == 0
    await sender.send("far.test", None, [outgoing(item(2, "b@far.test", "m2"))])
    assert len(server.sessions) == 2 and cache.reused == 0


async def test_a_session_the_peer_closed_meanwhile_costs_no_deferral(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
) -> None:
    resolver, port, server = world
    cache = SessionCache(idle_seconds=30, max_messages=100, clock=Clock())
    sender = SmtpDestinationSender(resolver, SETTINGS, port=port, cache=cache)
    await sender.send("far.test", None, [outgoing(item(1, "a@far.test"))])
    [idle] = [c for waiting in cache._idle.values() for c in waiting]
    idle.session._wire.abort()  # the peer's side of things: the connection is gone

    replies = await sender.send("far.test", None, [outgoing(item(2, "b@far.test", "m2"))])
    assert replies[2].delivered
    assert len(server.sessions) == 2 and cache.reused == 0


async def test_without_idle_time_every_batch_closes_its_session(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
) -> None:
    resolver, port, server = world
    cache = SessionCache(idle_seconds=0, max_messages=100)
    sender = SmtpDestinationSender(resolver, SETTINGS, port=port, cache=cache)
    for n in range(2):
        await sender.send("far.test", None, [outgoing(item(n, f"r{n}@far.test", f"m{n}"))])
    assert len(server.sessions) == 2 and len(cache) == 0


async def test_batches_to_many_destinations_at_once_share_the_table_safely(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
) -> None:
    """Idle sessions of many keys (here: source addresses) close while other batches take
    and give sessions on the same event loop: nothing trips over the table changing."""
    resolver, port, server = world
    clock = Clock()
    cache = SessionCache(idle_seconds=1, max_messages=100, clock=clock)
    sender = SmtpDestinationSender(resolver, SETTINGS, port=port, cache=cache)

    async def batch(n: int) -> bool:
        source = f"127.0.0.{21 + n % 6}"
        rows = [outgoing(item(n, f"r{n}@far.test", f"m{n}"))]
        replies = await sender.send("far.test", None, rows, source_address=source)
        return replies[n].delivered

    assert all(await asyncio.gather(*(batch(n) for n in range(6))))
    assert len(cache) == 6
    clock.now += 2  # every idle session is now past its time
    delivered = await asyncio.gather(*(batch(n) for n in range(6, 12)))
    assert all(delivered) and len(server.messages) == 12
    await sender.aclose()
