"""Forwarder and ArcKeys: the ARC set a forward gets verifies with dkimpy and with our own
verifier (keys through the Resolver contract), carries the edge's results, extends a chain
the edge judged; no key or no verdict forwards unsealed; SRS at the right domain; the
forwarding domain's RSA key read from the secret store and cached."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization

from mairust.auth.arc import verify_arc
from mairust.auth.headers import authentication_results, prepend_header
from mairust.auth.results import ArcResult, ArcWord, AuthResults, DkimResult, DkimWord
from mairust.model.dkim_keys import DkimAlgorithm, DkimKey, DkimKeyState
from mairust.model.ids import new_id
from mairust.model.scope import TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.outbound.dkim_signer import SigningKey, private_key_pem, public_key_text
from mairust.outbound.forwarding import ArcKeys, Forwarder
from mairust.outbound.srs import Srs
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.dict_resolver import DictResolver
from tests.support.sqlite_template import upgrade_to_head_for_test

AUTHSERV = "mx.fwd.test"
MESSAGE = (
    b"Received: from client.test by mx.fwd.test\r\n"
    b"From: Ann <ann@origin.example>\r\n"
    b"To: list@fwd.test\r\n"
    b"Subject: minutes\r\n"
    b"Message-ID: <m-1@origin.example>\r\n"
    b"\r\n"
    b"See you.\r\n"
)
WHEN = 1_796_000_000.0


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(
        "fwd.test", "arc1", DkimAlgorithm.RSA2048, private_key_pem(DkimAlgorithm.RSA2048)
    )


def zone(key: SigningKey) -> DictResolver:
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    txt = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    return DictResolver({"arc1._domainkey.fwd.test": {"TXT": [txt]}})


def dkimpy_says(resolver: DictResolver, message: bytes) -> bytes:
    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        records = resolver.lookup(name.decode().rstrip("."), "TXT")
        return records[0].encode() if records else None

    cv, _, _ = dkim.arc_verify(message, dnsfunc=txt)
    return bytes(cv)


def forwarder(key: SigningKey | None, srs_domain: str | None = None) -> Forwarder:
    return Forwarder(
        Srs([b"s"], clock=lambda: WHEN),
        AUTHSERV,
        arc_key_for=lambda domain: key if key is not None and domain == key.domain else None,
        srs_domain=srs_domain,
    )


def stamped(message: bytes, results: AuthResults) -> bytes:
    """What the SMTP edge does at DATA: our Authentication-Results on top."""
    return prepend_header(
        message, "Authentication-Results", authentication_results(AUTHSERV, results)
    )


def test_a_sealed_forward_verifies_with_dkimpy_and_ours_and_carries_the_edge_results(
    key: SigningKey,
) -> None:
    results = AuthResults(
        dkim=(DkimResult(DkimWord.PASS, "origin.example", "s", "rsa-sha256", "abcdefgh"),)
    )
    message = stamped(MESSAGE, results)
    sealed = forwarder(key).sealed(message, "fwd.test", results)
    assert sealed.endswith(message)
    assert sealed.startswith(b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=fwd.test; s=arc1;")
    aar = sealed.split(b"ARC-Authentication-Results: ", 1)[1].split(b"\r\n", 1)[0]
    assert aar.startswith(b"i=1; mx.fwd.test;")
    assert b"dkim=pass" in sealed[: len(sealed) - len(message)]
    assert dkimpy_says(zone(key), sealed) == b"pass"
    assert verify_arc(zone(key), sealed) == ArcResult(ArcWord.PASS, 1, "")
    # A change in transit breaks it, for both verifiers.
    tampered = sealed.replace(b"See you.", b"See me.")
    assert dkimpy_says(zone(key), tampered) == b"fail"
    assert verify_arc(zone(key), tampered).result is ArcWord.FAIL


def test_unchecked_mail_is_sealed_with_results_none(key: SigningKey) -> None:
    sealed = forwarder(key).sealed(MESSAGE, "fwd.test", None)
    assert b"Authentication-Results: mx.fwd.test" not in sealed  # nothing stamped for us
    assert verify_arc(zone(key), sealed).result is ArcWord.PASS


def test_a_second_hop_extends_the_chain_the_edge_judged(key: SigningKey) -> None:
    first = forwarder(key).sealed(MESSAGE, "fwd.test", None)
    judged = AuthResults(arc=verify_arc(zone(key), first))
    again = forwarder(key).sealed(stamped(first, judged), "fwd.test", judged)
    assert verify_arc(zone(key), again) == ArcResult(ArcWord.PASS, 2, "")
    assert dkimpy_says(zone(key), again) == b"pass"


def test_no_key_or_no_chain_verdict_forwards_unsealed(key: SigningKey) -> None:
    assert forwarder(None).sealed(MESSAGE, "fwd.test", None) == MESSAGE
    assert forwarder(key).sealed(MESSAGE, "other.test", None) == MESSAGE
    # A chain came in and our checks gave no arc= verdict: it cannot be extended honestly.
    chained = forwarder(key).sealed(MESSAGE, "fwd.test", None)
    no_verdict = stamped(chained, AuthResults())
    assert forwarder(key).sealed(no_verdict, "fwd.test", AuthResults()) == no_verdict


def test_return_path_and_bounce_addresses() -> None:
    own = forwarder(None)
    made = own.return_path("ann@origin.example", "list@fwd.test")
    assert made.startswith("SRS0=") and made.endswith("=origin.example=ann@fwd.test")
    assert own.return_path("", "list@fwd.test") == ""
    assert own.bounce_target(made) == "ann@origin.example"
    assert own.is_bounce_address(made, domain_is_ours=True)
    assert not own.is_bounce_address(made, domain_is_ours=False)
    assert not own.is_bounce_address("list@fwd.test", domain_is_ours=True)
    central = forwarder(None, srs_domain="Bounces.Example")
    made = central.return_path("ann@origin.example", "list@fwd.test")
    assert made.endswith("@Bounces.Example")
    assert central.is_bounce_address(made.replace("Bounces.Example", "bounces.example"), False)


class Clock:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    opened = SqlMetadataStore(url)
    yield opened
    opened.close()


def _stored_key(
    store: SqlMetadataStore, vault: SecretVault, tenant: str, algorithm: DkimAlgorithm
) -> DkimKey:
    pem = private_key_pem(algorithm)
    ref = vault.create(TenantScope(tenant), SecretPurpose.DKIM_KEY, pem)
    key = DkimKey(
        new_id(),
        tenant,
        "fwd.test",
        algorithm.value,
        algorithm,
        public_key_text(algorithm, pem),
        ref.id,
        DkimKeyState.ACTIVE,
        Clock.now,
    )
    store.add_dkim_key(key)
    return key


def test_arc_keys_take_the_domains_rsa_key_and_cache_it(store: SqlMetadataStore) -> None:
    tenant = store.create_tenant("t").id
    store.add_domain("fwd.test", tenant)
    vault = SecretVault(store, Keyring.from_bytes(b"forwarding-test-master-key-32byt"))
    clock = Clock()
    keys = ArcKeys(store, vault, cache_seconds=60, clock=clock)
    _stored_key(store, vault, tenant, DkimAlgorithm.ED25519)
    assert keys.key_for("fwd.test") is None  # ed25519 does not seal ARC
    _stored_key(store, vault, tenant, DkimAlgorithm.RSA2048)
    assert keys.key_for("fwd.test") is None  # "none" is cached too
    clock.now += timedelta(seconds=61)
    found = keys.key_for("FWD.test.")
    assert found is not None
    assert (found.domain, found.selector, found.algorithm) == (
        "fwd.test",
        "rsa2048",
        DkimAlgorithm.RSA2048,
    )
    assert found.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    sealed = forwarder(found).sealed(MESSAGE, "fwd.test", None)
    assert sealed.startswith(b"ARC-Seal: ")
