"""Behaviour of the DKIM-signed load: every message is distinct, exactly its size, and passes
SPF (MAIL FROM and HELO), DKIM and DMARC through MaiRust's ``AuthChecker`` against the
domain's records served by a loopback DNS server."""

from __future__ import annotations

from collections.abc import Iterator

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from load.signed_mail import SELECTOR, SignedMessages, SigningDomain
from mairust.auth.checker import AuthChecker
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import DkimWord, DmarcWord, SpfWord
from tests.support.dns_server import ZoneServer


@pytest.fixture(scope="module")
def domain() -> SigningDomain:
    return SigningDomain.generate("sender.test")


@pytest.fixture(scope="module")
def messages(domain: SigningDomain) -> SignedMessages:
    return SignedMessages(domain, "user0@example.test", 5120, count=4)


@pytest.fixture(scope="module")
def zone(domain: SigningDomain) -> Iterator[ZoneServer]:
    with ZoneServer(domain.records()) as server:
        yield server


def test_every_message_is_exactly_the_size_and_distinct(messages: SignedMessages) -> None:
    built = [messages.build(i) for i in range(len(messages))]
    assert [len(message) for message in built] == [5120] * 4
    assert len(set(built)) == 4
    assert messages.build(4) == messages.build(0), "a run longer than the set cycles over it"
    assert messages.recipients(3) == ["user0@example.test"]


def test_each_message_carries_one_rsa_2048_signature_of_the_domain(
    domain: SigningDomain, messages: SignedMessages
) -> None:
    message = messages.build(1)
    assert message.count(b"DKIM-Signature:") == 1
    assert b"d=sender.test" in message and f"s={SELECTOR}".encode() in message
    key = domain.records()[f"{SELECTOR}._domainkey.sender.test"]["TXT"][0]
    assert dkim.verify(message, dnsfunc=lambda name, timeout=5: key.encode())
    private_key = serialization.load_pem_private_key(domain.private_pem, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size == 2048


def test_the_world_passes_spf_dkim_and_dmarc_from_the_client_address(
    domain: SigningDomain, messages: SignedMessages, zone: ZoneServer
) -> None:
    checker = AuthChecker(CachingResolver(nameservers=["127.0.0.1"], port=zone.port))
    sender = checker.check_sender(domain.client_ip, domain.helo, domain.mail_from)
    results = checker.check_message(messages.build(2), sender)
    assert results.spf is not None and results.spf.result is SpfWord.PASS
    assert results.helo is not None and results.helo.result is SpfWord.PASS
    assert [signature.result for signature in results.dkim] == [DkimWord.PASS]
    assert results.dmarc is not None and results.dmarc.result is DmarcWord.PASS


def test_another_address_fails_spf(domain: SigningDomain, zone: ZoneServer) -> None:
    checker = AuthChecker(CachingResolver(nameservers=["127.0.0.1"], port=zone.port))
    sender = checker.check_sender("192.0.2.1", domain.helo, domain.mail_from)
    assert sender.spf is not None and sender.spf.result is SpfWord.FAIL
