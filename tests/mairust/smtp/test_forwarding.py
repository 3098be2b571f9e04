"""Forwarding at the SMTP edge over a real loopback server: a forward rule's recipient is
queued for its target with an SRS reverse path and an ARC-sealed message; a bounce to our
SRS address goes back to the original sender; a bad or stale one is refused."""

from __future__ import annotations

import asyncio
import base64
import re
import smtplib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization

from mairust.auth.arc import verify_arc
from mairust.auth.checker import AuthChecker
from mairust.auth.policy import AuthPolicy
from mairust.auth.results import ArcWord
from mairust.auth.service import ThreadedAuthService
from mairust.config import AuthSettings
from mairust.model.dkim_keys import DkimAlgorithm
from mairust.model.policy import RouteAction
from mairust.model.suppression import Suppression, SuppressionReason
from mairust.outbound.dkim_signer import SigningKey, private_key_pem
from mairust.outbound.forwarding import Forwarder
from mairust.outbound.srs import Srs
from mairust.smtp.deciders import InboundAuth
from mairust.storage.stores import Stores
from tests.support.dict_resolver import DictResolver

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import Mta, StartMta

DOMAIN = "example.test"
BOB = f"bob@{DOMAIN}"
FORWARDING = f"anyone@{DOMAIN}"
TARGET = "someone@remote.example"
SENDER = "sender@remote.test"
AUTHSERV = "mx.example.test"
NOW = 1_796_000_000.0
DAY = 86400.0
QUEUED = re.compile(r"2\.0\.0 Ok: queued as ([0-9A-Z]{26})")
MESSAGE = (
    f"From: {SENDER}\r\nTo: {FORWARDING}\r\nSubject: forward me\r\n"
    "Message-ID: <fwd-1@remote.test>\r\n\r\nHello.\r\n"
).encode()


@pytest.fixture(scope="module")
def arc_key() -> SigningKey:
    return SigningKey(DOMAIN, "arc", DkimAlgorithm.RSA2048, private_key_pem(DkimAlgorithm.RSA2048))


def key_zone(key: SigningKey) -> dict[str, dict[str, list[str]]]:
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    txt = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    return {f"{key.selector}._domainkey.{key.domain}": {"TXT": [txt]}}


def forwarder(key: SigningKey | None, now: float = NOW) -> Forwarder:
    return Forwarder(
        Srs([b"edge secret"], clock=lambda: now),
        AUTHSERV,
        arc_key_for=lambda domain: key if key is not None and domain == key.domain else None,
    )


def tenant_of(stores: Stores) -> str:
    domain = stores.metadata.get_domain(DOMAIN)
    assert domain is not None
    return domain.tenant_id


def forward_everything(stores: Stores) -> None:
    tenant_id = tenant_of(stores)
    stores.metadata.add_routing_rule(DOMAIN, tenant_id, "any*", RouteAction.FORWARD, TARGET)
    stores.metadata.add_routing_rule(DOMAIN, tenant_id, "list+*", RouteAction.FORWARD, TARGET)


def send(
    port: int, sender: str, rcpts: Sequence[str], message: bytes = MESSAGE
) -> tuple[list[tuple[int, bytes]], tuple[int, bytes] | None]:
    """One transaction: the RCPT replies, and DATA's when every RCPT was accepted."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=60) as client:
        client.ehlo()
        assert client.mail(sender)[0] == 250
        answers = [client.rcpt(rcpt) for rcpt in rcpts]
        if any(code != 250 for code, _ in answers):
            return answers, None
        return answers, client.data(message)


def queued_id(reply: tuple[int, bytes] | None) -> str:
    assert reply is not None and reply[0] == 250, reply
    match = QUEUED.fullmatch(reply[1].decode())
    assert match, reply
    return match.group(1)


async def test_a_forward_is_queued_for_its_target_with_srs_and_a_verifying_arc_seal(
    start_mta: StartMta, stores: Stores, arc_key: SigningKey
) -> None:
    forward_everything(stores)
    checks = InboundAuth(
        service=ThreadedAuthService(AuthChecker(DictResolver({}))),
        policy=AuthPolicy(AuthSettings(trusted_networks=[])),
        authserv_id=AUTHSERV,
    )
    mta = await start_mta(forwarder=forwarder(arc_key), auth=checks, recipient_cache_seconds=0)
    _, data = await asyncio.to_thread(send, mta.port, SENDER, [FORWARDING, BOB])
    message_id = queued_id(data)
    # The local recipient stays local; the forward is one outbound row for the target.
    assert mta.recipients_of(message_id) == [BOB]
    [row] = mta.stores.metadata.list_outbound(message_id=message_id)
    srs = Srs([b"edge secret"], clock=lambda: NOW)
    assert row.recipient == TARGET
    assert row.destination == "remote.example"
    assert row.mail_from == srs.forward(SENDER, DOMAIN)
    assert row.mail_from.startswith("SRS0=") and row.mail_from.endswith(
        f"=remote.test=sender@{DOMAIN}"
    )
    assert srs.reverse(row.mail_from) == SENDER
    assert row.orcpt == f"rfc822;{FORWARDING}"
    assert row.tenant_id == tenant_of(stores)
    # The message carries our ARC set over the results the edge stamped; both verifiers
    # (dkimpy's and ours through the Resolver contract) say pass.
    body = mta.stores.blobs.get(row.message.blob_key)
    assert body.startswith(b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=example.test; s=arc;")
    aar = re.search(rb"ARC-Authentication-Results: i=1; mx\.example\.test;[^\r]*", body)
    assert aar is not None and b"spf=" in body[aar.start() : aar.start() + 400]
    zone = key_zone(arc_key)
    cv, _, _ = dkim.arc_verify(body, dnsfunc=lambda name, timeout=5: _txt(zone, name))
    assert cv == b"pass"
    assert verify_arc(DictResolver(zone), body).result is ArcWord.PASS


def _txt(zone: dict[str, dict[str, list[str]]], name: bytes | str) -> bytes | None:
    text = (name.decode() if isinstance(name, bytes) else name).rstrip(".")
    records = zone.get(text, {}).get("TXT")
    return records[0].encode() if records else None


async def test_a_bounce_forwarded_keeps_the_null_sender_and_a_domain_without_key_is_unsealed(
    start_mta: StartMta, stores: Stores
) -> None:
    forward_everything(stores)
    mta = await start_mta(forwarder=forwarder(None), recipient_cache_seconds=0)
    _, data = await asyncio.to_thread(send, mta.port, "<>", [FORWARDING])
    [row] = mta.stores.metadata.list_outbound(message_id=queued_id(data))
    assert (row.recipient, row.mail_from) == (TARGET, "")
    assert b"ARC-Seal" not in mta.stores.blobs.get(row.message.blob_key)


async def test_a_bounce_to_our_srs_address_is_relayed_to_the_original_sender(
    start_mta: StartMta, stores: Stores
) -> None:
    forward_everything(stores)  # "any*" does not catch SRS addresses, but a "*" would
    tenant_id = tenant_of(stores)
    stores.metadata.add_routing_rule(DOMAIN, tenant_id, "*", RouteAction.FORWARD, TARGET)
    mta = await start_mta(forwarder=forwarder(None, NOW + 3 * DAY), recipient_cache_seconds=0)
    srs_address = Srs([b"edge secret"], clock=lambda: NOW).forward(SENDER, DOMAIN)
    bounce = b"From: MAILER-DAEMON@remote.example\r\nSubject: failed\r\n\r\nno such user\r\n"
    _, data = await asyncio.to_thread(send, mta.port, "<>", [srs_address], bounce)
    message_id = queued_id(data)
    assert mta.recipients_of(message_id) == []
    [row] = mta.stores.metadata.list_outbound(message_id=message_id)
    assert (row.recipient, row.mail_from, row.destination) == (SENDER, "", "remote.test")
    assert row.tenant_id == tenant_id


@pytest.mark.parametrize(
    ("address", "clock"),
    [
        # A wrong hash, and a right one 30 days on (past the 21-day default).
        ("SRS0=AAAA={stamp}=remote.test=sender@example.test", NOW),
        ("{good}", NOW + 30 * DAY),
        ("SRS0=zz@example.test", NOW),
    ],
)
async def test_a_bad_or_stale_srs_address_is_refused_550_5_1_1(
    start_mta: StartMta, address: str, clock: float
) -> None:
    good = Srs([b"edge secret"], clock=lambda: NOW).forward(SENDER, DOMAIN)
    stamp = good.split("=")[2]
    mta = await start_mta(forwarder=forwarder(None, clock), recipient_cache_seconds=0)
    recipient = address.format(good=good, stamp=stamp)
    answers, data = await asyncio.to_thread(send, mta.port, "<>", [recipient])
    assert data is None
    assert answers[0][0] == 550 and answers[0][1].startswith(b"5.1.1"), answers
    assert mta.stores.metadata.list_outbound() == [] and mta.queued() == []


async def test_without_a_forwarder_a_forward_is_still_deferred_451(
    mta: Mta, stores: Stores
) -> None:
    forward_everything(stores)
    answers, _ = await asyncio.to_thread(send, mta.port, SENDER, [FORWARDING])
    assert answers[0][0] == 451 and answers[0][1].startswith(b"4.3.5"), answers


async def test_a_forward_to_a_target_the_tenant_suppresses_is_refused(
    start_mta: StartMta, stores: Stores
) -> None:
    forward_everything(stores)
    stores.metadata.add_suppressions(
        [
            Suppression(
                tenant_of(stores),
                TARGET,
                SuppressionReason.COMPLAINT,
                datetime.fromtimestamp(NOW, UTC),
            )
        ]
    )
    mta = await start_mta(forwarder=forwarder(None), recipient_cache_seconds=0)
    answers, data = await asyncio.to_thread(send, mta.port, SENDER, [FORWARDING])
    assert data is None
    assert answers[0] == (550, b"5.7.1 Recipient is on this account's suppression list (complaint)")
    assert mta.stores.metadata.list_outbound() == []


async def test_the_forwarding_address_is_kept_as_orcpt_in_xtext(
    start_mta: StartMta, stores: Stores
) -> None:
    forward_everything(stores)
    mta = await start_mta(forwarder=forwarder(None), recipient_cache_seconds=0)
    _, data = await asyncio.to_thread(send, mta.port, SENDER, [f"list+AB=x@{DOMAIN}"])
    [row] = mta.stores.metadata.list_outbound(message_id=queued_id(data))
    assert row.orcpt == f"rfc822;list+2Bab+3Dx@{DOMAIN}"  # the edge lower-cases addresses


async def test_a_message_that_has_been_through_too_many_hops_is_not_forwarded(
    start_mta: StartMta, stores: Stores
) -> None:
    """Our own Received field makes the 50th (RFC 5321 §6.3, Postfix's hopcount_limit): a
    forwarding loop is refused at DATA; one hop fewer is forwarded."""
    forward_everything(stores)
    mta = await start_mta(forwarder=forwarder(None), recipient_cache_seconds=0)
    hops = b"".join(b"Received: from hop%d.test by loop.test\r\n" % n for n in range(49))
    _, refused = await asyncio.to_thread(send, mta.port, SENDER, [FORWARDING], hops + MESSAGE)
    assert refused == (554, b"5.4.6 Too many hops: mail forwarding loop")
    assert mta.stores.metadata.list_outbound() == []
    one_fewer = hops.split(b"\r\n", 1)[1]
    _, data = await asyncio.to_thread(send, mta.port, SENDER, [FORWARDING], one_fewer + MESSAGE)
    assert len(mta.stores.metadata.list_outbound(message_id=queued_id(data))) == 1
