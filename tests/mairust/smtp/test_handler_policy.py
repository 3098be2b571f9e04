"""InboundHandler over a real loopback server with each domain's own policy and routing
rules read from the real store: size and rate limits, SPF enforcement, routing rules, and
changes in force without a restart."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from mairust.config import AuthSettings
from mairust.model.policy import DomainPolicy, RouteAction
from mairust.model.scope import PLATFORM
from tests.mairust.smtp.test_handler import (
    ALICE,
    BOB,
    DOMAIN,
    SENDER,
    checking_auth,
    simple_message,
)

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import RawClientFactory, StartMta


def set_policy(stores, **fields) -> None:
    stores.metadata.set_domain_policy(PLATFORM, DOMAIN, DomainPolicy(**fields))


def transaction(raw_client, port: int, rcpts: list[str], message: bytes, size: int | None = None):
    client = raw_client(port)
    mail = f"MAIL FROM:<{SENDER}>" + (f" SIZE={size}" if size is not None else "")
    replies = client.dialog(["EHLO c.test", mail, *[f"RCPT TO:<{r}>" for r in rcpts]])
    if all(reply.startswith("250") for reply in replies[2:]):
        replies += client.dialog(["DATA", message + b".\r\n"])
    return replies[1:]


async def test_a_domains_size_limit_holds_at_rcpt_and_at_data(
    start_mta: StartMta, raw_client: RawClientFactory, stores
) -> None:
    set_policy(stores, max_message_bytes=2000)
    mta = await start_mta(recipient_cache_seconds=0)
    big, small = simple_message("\r\n".join(["x" * 70] * 45)), simple_message("fits")
    declared = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE], small, 5000)
    assert declared[1].startswith("552 5.3.4"), declared
    sent = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE], big)
    assert sent[-1].startswith("552 5.3.4"), sent
    assert mta.queued() == []
    sent = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE], small, 500)
    assert sent[-1].startswith("250 2.0.0"), sent
    assert len(mta.queued()) == 1


async def test_a_domains_allowance_counts_messages_not_recipients(
    start_mta: StartMta, raw_client: RawClientFactory, stores
) -> None:
    set_policy(stores, messages_per_minute=2)
    mta = await start_mta(recipient_cache_seconds=0)
    message = simple_message()
    first = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE, BOB], message)
    assert first[-1].startswith("250 2.0.0"), first
    second = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE], message)
    assert second[-1].startswith("250 2.0.0"), second
    third = await asyncio.to_thread(transaction, raw_client, mta.port, [BOB], message)
    assert third[1].startswith("450 4.7.1"), third
    assert len(mta.queued()) == 3  # alice and bob, then alice


async def test_spf_enforcement_follows_the_domains_own_policy(
    start_mta: StartMta, raw_client: RawClientFactory, stores
) -> None:
    # The configuration only records SPF; the domain asks for enforcement.
    auth = checking_auth(AuthSettings(trusted_networks=[], spf="record"))
    mta = await start_mta(auth=auth, recipient_cache_seconds=0)
    message = simple_message()
    recorded = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE], message)
    assert recorded[-1].startswith("250 2.0.0"), recorded
    set_policy(stores, spf="enforce")
    refused = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE], message)
    assert refused[1].startswith("550 5.7.23"), refused


async def test_routing_rules_deliver_locally_or_refuse_for_now_what_leaves(
    start_mta: StartMta, raw_client: RawClientFactory, stores
) -> None:
    tenant_id = stores.metadata.get_domain(DOMAIN).tenant_id
    stores.metadata.add_routing_rule(DOMAIN, tenant_id, "sales-*", RouteAction.LOCAL, ALICE)
    stores.metadata.add_routing_rule(
        DOMAIN, tenant_id, "*", RouteAction.FORWARD, "someone@remote.example"
    )
    mta = await start_mta(recipient_cache_seconds=0)
    message = simple_message()
    local = await asyncio.to_thread(
        transaction, raw_client, mta.port, [f"sales-eu@{DOMAIN}"], message
    )
    assert local[-1].startswith("250 2.0.0"), local
    [item] = mta.queued()
    assert item.recipient == f"sales-eu@{DOMAIN}"
    forwarded = await asyncio.to_thread(
        transaction, raw_client, mta.port, [f"anyone@{DOMAIN}"], message
    )
    assert forwarded[1].startswith("451 4.3.5"), forwarded
    assert len(mta.queued()) == 1


async def test_a_change_is_in_force_once_the_route_cache_forgets(
    start_mta: StartMta, raw_client: RawClientFactory, stores
) -> None:
    mta = await start_mta(recipient_cache_seconds=0.5)
    big = simple_message("\r\n".join(["x" * 70] * 45))
    before = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE], big)
    assert before[-1].startswith("250 2.0.0"), before
    set_policy(stores, max_message_bytes=2000)
    started = time.monotonic()
    # Within the cache's lifetime the old route (and policy) may still answer; after it,
    # the new policy must: no restart in between.
    await asyncio.sleep(0.6)
    after = await asyncio.to_thread(transaction, raw_client, mta.port, [ALICE], big)
    assert time.monotonic() - started >= 0.5
    assert after[-1].startswith("552 5.3.4"), after
