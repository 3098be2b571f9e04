"""Relay and address tricks at RCPT, over raw sockets from an untrusted loopback address.

An unauthenticated client outside ``trusted_networks`` gets mail delivered only to a real
mailbox of ours, and only when the address really is that mailbox: the percent hack, quoted
local parts, source routes, bang paths, IP literals and a double ``@`` are refused with an
enhanced code (5xx), nothing is queued for outbound delivery, and a directory that cannot
answer gets 4xx, never an accept.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from mairust.errors import StorageUnavailable

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import Mta, RawClientFactory, StartMta

DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
SENDER = "sender@remote.test"
UNTRUSTED = {"trusted_networks": ["127.0.0.1/32"]}
ENHANCED = re.compile(r"[245]\d\d [245]\.\d{1,3}\.\d{1,3} .*")
GOOD = f"From: {SENDER}\r\nSubject: fine\r\n\r\nhello\r\n.\r\n".encode()

TRICKS = [
    f"alice%far.test@{DOMAIN}",  # the percent hack: relay to far.test through us
    f"alice%{DOMAIN}@far.test",
    f'"alice@far.test"@{DOMAIN}',  # a quoted local part holding an address
    '"alice"@far.test',
    "@relay.test:alice@far.test",  # a source route (RFC 5321 §C: the route is ignored)
    f"@{DOMAIN}:alice@far.test",
    f"far.test!alice@{DOMAIN}",  # bang paths
    "far!alice",
    "alice@[127.0.0.1]",  # address literals
    "alice@[IPv6:::1]",
    "alice@[192.0.2.1]",
    "alice@far.test@example.test",  # a double @
    f"alice@{DOMAIN}@far.test",
    "alice@far.test",  # plain relay
    f"alice@{DOMAIN}.",  # a trailing dot
    "alice",  # no domain
]


def _rcpt_replies(mta: Mta, raw_client: RawClientFactory, addresses: list[str]) -> list[str]:
    client = raw_client(mta.port, "127.0.0.3")
    client.send("EHLO client.test")
    replies = []
    for address in addresses:
        assert client.send(f"MAIL FROM:<{SENDER}>").startswith("250")
        replies.append(client.send(f"RCPT TO:<{address}>"))
        assert client.send("RSET").startswith("250")
    return replies


async def test_relay_tricks_from_an_unauthenticated_client_are_refused(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta(auth_settings=UNTRUSTED)
    replies = await asyncio.to_thread(_rcpt_replies, mta, raw_client, TRICKS)
    for address, reply in zip(TRICKS, replies, strict=True):
        assert reply[0] == "5", (address, reply)
        assert ENHANCED.fullmatch(reply), (address, reply)
    assert mta.queued() == []
    assert mta.stores.metadata.list_outbound() == []


async def test_the_same_mailbox_spelt_otherwise_is_delivered_to_it_alone(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    """A quoted plain local part, a source route (ignored, RFC 5321 §C) and another case
    are the mailbox itself: delivered to alice, nothing relayed."""
    mta = await start_mta(auth_settings=UNTRUSTED)
    spellings = ['"alice"@example.test', "@relay.test:alice@example.test", "ALICE@Example.Test"]

    def run() -> list[str]:
        client = raw_client(mta.port, "127.0.0.4")
        client.send("EHLO client.test")
        replies = []
        for address in spellings:
            assert client.send(f"MAIL FROM:<{SENDER}>").startswith("250")
            assert client.send(f"RCPT TO:<{address}>") == "250 2.1.5 Recipient ok", address
            assert client.send("DATA").startswith("354")
            replies.append(client.send(GOOD))
        return replies

    replies = await asyncio.to_thread(run)
    assert all(reply.startswith("250 2.0.0 Ok: queued as ") for reply in replies), replies
    queued = mta.queued()
    assert len({item.message.id for item in queued}) == len(spellings)
    assert {item.recipient for item in queued} == {ALICE}
    assert mta.stores.metadata.list_outbound() == []


class _DirectoryDown:
    """The real directory, but every lookup fails as a database outage would."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def _down(self, *_: Any) -> Any:
        raise StorageUnavailable("directory down")

    get_domain = find_mailbox = alias_targets = catchall_mailbox = routing_rules = _down

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_a_directory_that_cannot_answer_gets_4xx_never_an_accept(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta(auth_settings=UNTRUSTED, directory=_DirectoryDown(None))
    addresses = [ALICE, f"alice%far.test@{DOMAIN}", '"alice"@example.test', "alice@far.test"]
    replies = await asyncio.to_thread(_rcpt_replies, mta, raw_client, addresses)
    for address, reply in zip(addresses, replies, strict=True):
        assert reply[0] == "4", (address, reply)
        assert ENHANCED.fullmatch(reply), (address, reply)
    assert mta.queued() == []
    assert mta.stores.metadata.list_outbound() == []
