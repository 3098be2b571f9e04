"""verify_arc and seal_arc: a chain we seal validates, hop after hop; breaking it fails."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mairust.auth.arc import ArcSealError, seal_arc, verify_arc
from mairust.auth.headers import authentication_results, prepend_header
from mairust.auth.results import ArcResult, ArcWord, AuthResults, DkimResult, DkimWord
from tests.support.dict_resolver import DictResolver

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: list@lists.example.net\r\n"
    b"Subject: meeting notes\r\n"
    b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
    b"Message-ID: <notes-1@example.org>\r\n"
    b"\r\n"
    b"Notes attached.\r\n"
)
KEY_NAME = "arc._domainkey.lists.example.net"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _zone(key: rsa.RSAPrivateKey, **kwargs: object) -> DictResolver:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    txt = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    return DictResolver({KEY_NAME: {"TXT": [txt]}}, **kwargs)  # type: ignore[arg-type]


def _forward(message: bytes, key: rsa.RSAPrivateKey, arc: ArcResult, hop: str) -> bytes:
    """What a forwarding hop does: stamp its results, seal, prepend both."""
    results = AuthResults(
        dkim=(DkimResult(DkimWord.PASS, "example.org", "s1", "rsa-sha256", "abcdefgh"),), arc=arc
    )
    value = authentication_results(hop, results)
    arc_set = seal_arc(
        message,
        selector="arc",
        domain="lists.example.net",
        private_key=_pem(key),
        authserv_id=hop,
        auth_results=value,
        timestamp=1_700_000_000,
    )
    return arc_set + prepend_header(message, "Authentication-Results", value)


def test_message_without_arc_is_none() -> None:
    assert verify_arc(DictResolver({}), MESSAGE) == ArcResult(ArcWord.NONE, 0, "")


def test_one_sealed_hop_passes(key) -> None:
    sealed = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "mx.lists.example.net")
    assert sealed.startswith(b"ARC-Seal: ")
    assert verify_arc(_zone(key), sealed) == ArcResult(ArcWord.PASS, 1, "")
    aar = next(line for line in sealed.split(b"\r\n") if line.startswith(b"ARC-Authentication"))
    assert aar.startswith(b"ARC-Authentication-Results: i=1; mx.lists.example.net;")


def test_two_hops_pass_and_count(key) -> None:
    zone = _zone(key)
    first = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "one.example.net")
    second = _forward(first, key, verify_arc(zone, first), "two.example.net")
    result = verify_arc(zone, second)
    assert (result.result, result.chain_length) == (ArcWord.PASS, 2)
    assert b"cv=pass" in second.split(b"\r\n\r\n")[0]


def test_body_changed_after_sealing_fails(key) -> None:
    sealed = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "mx.lists.example.net")
    result = verify_arc(_zone(key), sealed.replace(b"Notes attached.", b"Notes removed."))
    assert result.result == ArcWord.FAIL
    assert "ARC-Message-Signature did not validate" in result.reason


def test_earlier_seal_broken_fails_the_chain(key) -> None:
    zone = _zone(key)
    first = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "one.example.net")
    # Change the first hop's AAR (covered by its seal) before the second hop seals.
    broken = first.replace(b"i=1; one.example.net;", b"i=1; one.example.net; x=1;")
    second = _forward(broken, key, ArcResult(ArcWord.PASS), "two.example.net")
    result = verify_arc(zone, second)
    assert (result.result, result.chain_length) == (ArcWord.FAIL, 2)
    assert "ARC-Seal[1] did not validate" in result.reason


def test_chain_whose_newest_seal_says_fail_is_fail(key) -> None:
    sealed = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "one.example.net")
    failed = _forward(sealed, key, ArcResult(ArcWord.FAIL), "two.example.net")
    result = verify_arc(_zone(key), failed)
    assert result.result == ArcWord.FAIL and "reported failure" in result.reason


def test_dns_failure_fails_with_the_lookup_named(key) -> None:
    sealed = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "mx.lists.example.net")
    result = verify_arc(_zone(key, temp_error_names=[KEY_NAME]), sealed)
    assert result.result == ArcWord.FAIL
    assert f"key lookup failed: {KEY_NAME}" in result.reason


def test_signing_domain_that_is_no_dns_name_fails_without_a_lookup(key) -> None:
    sealed = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "mx.lists.example.net")
    odd = sealed.replace(b"d=lists.example.net", "d=lists.exämple.net".encode())
    resolver = _zone(key)
    assert verify_arc(resolver, odd).result == ArcWord.FAIL
    assert resolver.lookups == []


def test_missing_key_fails(key) -> None:
    sealed = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "mx.lists.example.net")
    assert verify_arc(DictResolver({}), sealed).result == ArcWord.FAIL


@pytest.mark.parametrize(
    ("headers", "word"),
    [
        (b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x.test; s=s; b=AAAA\r\n", ArcWord.FAIL),
        (
            b"ARC-Seal: i=1; garbage\r\nARC-Message-Signature: i=1; ;;;\r\n"
            b"ARC-Authentication-Results: i=1; x.test; none\r\n",
            ArcWord.FAIL,
        ),
        # No readable instance number: not an ARC set at all (dkimpy skips it).
        (b"ARC-Seal: i=x; cv=none\r\n", ArcWord.NONE),
    ],
)
def test_malformed_arc_headers_give_a_verdict_not_an_exception(headers, word) -> None:
    result = verify_arc(DictResolver({}), headers + MESSAGE)
    assert result.result == word
    assert bool(result.reason) == (word == ArcWord.FAIL)


def test_sealing_an_existing_chain_needs_our_arc_result(key) -> None:
    sealed = _forward(MESSAGE, key, ArcResult(ArcWord.NONE), "one.example.net")
    value = authentication_results("two.example.net", AuthResults())  # no arc= clause
    with pytest.raises(ArcSealError, match="no arc= result"):
        seal_arc(
            sealed,
            selector="arc",
            domain="lists.example.net",
            private_key=_pem(key),
            authserv_id="two.example.net",
            auth_results=value,
        )


def test_sealing_with_a_bad_key_raises_seal_error() -> None:
    with pytest.raises(ArcSealError, match="could not seal"):
        seal_arc(
            MESSAGE,
            selector="arc",
            domain="lists.example.net",
            private_key=b"nope",
            authserv_id="mx.example.net",
            auth_results="mx.example.net; arc=none",
        )


def test_sealing_a_message_without_from_raises_seal_error(key) -> None:
    no_from = MESSAGE.replace(b"From: Alice <alice@example.org>\r\n", b"")
    with pytest.raises(ArcSealError, match="From"):
        seal_arc(
            no_from,
            selector="arc",
            domain="lists.example.net",
            private_key=_pem(key),
            authserv_id="mx.example.net",
            auth_results="mx.example.net; arc=none",
        )


def test_chain_over_fifty_instances_fails_without_lookups() -> None:
    fake = b"ARC-Seal: i=51; a=rsa-sha256; cv=pass; d=x.test; s=s; b=AAAA\r\n"
    resolver = DictResolver({})
    result = verify_arc(resolver, fake + MESSAGE)
    assert (result.result, result.chain_length) == (ArcWord.FAIL, 51)
    assert resolver.lookups == []
