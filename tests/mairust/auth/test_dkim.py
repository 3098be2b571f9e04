"""verify_dkim: every outcome with its RFC 8601 word and reason, over a dict resolver.

Keys are made per test (RSA through ``cryptography``, ed25519 through PyNaCl); messages are
signed with dkimpy, or by hand where dkimpy cannot write the tag under test (x=, bad t=).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets
import time

import dkim  # type: ignore[import-untyped]
import nacl.signing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.canonicalization import CanonicalizationPolicy  # type: ignore[import-untyped]
from dkim.crypto import parse_pem_private_key  # type: ignore[import-untyped]

from mairust.auth.dkim import verify_dkim
from mairust.auth.results import DkimWord
from tests.support.dict_resolver import DictResolver

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.net>\r\n"
    b"Subject: quarterly numbers\r\n"
    b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
    b"Message-ID: <numbers-1@example.org>\r\n"
    b"\r\n"
    b"The numbers are in.\r\n"
)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _rsa_txt(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def _weak_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """An RSA key below what ``cryptography`` will generate (it refuses under 1024)."""

    def prime(size: int) -> int:
        while True:
            n = secrets.randbits(size) | (1 << (size - 1)) | 1
            if all(pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)):
                return n

    e = 65537
    while True:
        p, q = prime(bits // 2), prime(bits // 2)
        if p != q and math.gcd(e, (p - 1) * (q - 1)) == 1:
            break
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


@pytest.fixture(scope="module")
def rsa1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture(scope="module")
def rsa2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey.generate()


def _ed_private(key: nacl.signing.SigningKey) -> bytes:
    return base64.b64encode(bytes(key))


def _ed_txt(key: nacl.signing.SigningKey) -> str:
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(bytes(key.verify_key)).decode()}"


def _zone(**keys: str) -> DictResolver:
    """selector -> key record, all under example.org."""
    return DictResolver({f"{sel}._domainkey.example.org": {"TXT": [t]} for sel, t in keys.items()})


def _sign(message: bytes, pem: bytes, selector: str = "s1", **kwargs: object) -> bytes:
    return dkim.sign(message, selector.encode(), b"example.org", pem, **kwargs) + message


def _sign_with_tags(message: bytes, pem: bytes, extra: list[tuple[bytes, bytes]]) -> bytes:
    """A valid rsa-sha256 relaxed/relaxed signature carrying ``extra`` tags (dkimpy has no x=)."""
    signer = dkim.DKIM(message)
    policy = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    body_hash = base64.b64encode(hashlib.sha256(policy.canonicalize_body(signer.body)).digest())
    headers = (b"from", b"to", b"subject")
    fields = [
        (b"v", b"1"),
        (b"a", b"rsa-sha256"),
        (b"c", b"relaxed/relaxed"),
        (b"d", b"example.org"),
        (b"s", b"s1"),
        *extra,
        (b"h", b" : ".join(headers)),
        (b"bh", body_hash),
        (b"b", b"0" * 60),
    ]
    signer.hasher = hashlib.sha256
    value = signer.gen_header(
        fields, headers, policy, b"DKIM-Signature", parse_pem_private_key(pem)
    )
    return b"DKIM-Signature: " + value + message


# -- pass ----------------------------------------------------------------------------------


def test_a_message_without_signature_is_one_none() -> None:
    assert [r.result for r in verify_dkim(_zone(), MESSAGE)] == [DkimWord.NONE]


@pytest.mark.parametrize(
    "canon",
    [
        (b"simple", b"simple"),
        (b"relaxed", b"simple"),
        (b"simple", b"relaxed"),
        (b"relaxed", b"relaxed"),
    ],
)
def test_rsa_sha256_passes_in_every_canonicalisation(rsa2048, canon) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048), canonicalize=canon)
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), signed)
    assert result.result == DkimWord.PASS, result.reason
    b_value = re.search(rb"b=([^;]+)$", signed.split(b"\r\nFrom:")[0], re.S)
    assert b_value is not None
    assert result.signature_prefix == re.sub(rb"\s+", b"", b_value.group(1))[:8].decode()
    assert (result.domain, result.selector, result.algorithm) == ("example.org", "s1", "rsa-sha256")


def test_ed25519_sha256_passes(ed_key) -> None:
    signed = _sign(MESSAGE, _ed_private(ed_key), signature_algorithm=b"ed25519-sha256")
    (result,) = verify_dkim(_zone(s1=_ed_txt(ed_key)), signed)
    assert (result.result, result.algorithm) == (DkimWord.PASS, "ed25519-sha256")


def test_relaxed_body_survives_whitespace_changes_simple_does_not(rsa2048) -> None:
    zone = _zone(s1=_rsa_txt(rsa2048))
    relaxed = _sign(MESSAGE, _pem(rsa2048), canonicalize=(b"relaxed", b"relaxed"))
    simple = _sign(MESSAGE, _pem(rsa2048), canonicalize=(b"relaxed", b"simple"))

    def reflow(m: bytes) -> bytes:
        return m.replace(b"numbers are in.", b"numbers  are in.  ")

    assert verify_dkim(zone, reflow(relaxed))[0].result == DkimWord.PASS
    assert verify_dkim(zone, reflow(simple))[0].result == DkimWord.FAIL


def test_every_signature_gets_its_own_result_in_order(rsa2048, ed_key) -> None:
    once = _sign(MESSAGE, _pem(rsa2048), selector="good")
    twice = (
        dkim.sign(
            once,
            b"other",
            b"example.org",
            _ed_private(ed_key),
            signature_algorithm=b"ed25519-sha256",
        )
        + once
    )
    zone = _zone(good=_rsa_txt(rsa2048), other=_rsa_txt(rsa2048))  # wrong key type for "other"
    results = verify_dkim(zone, twice)
    assert [(r.selector, r.result) for r in results] == [
        ("other", DkimWord.PERMERROR),
        ("good", DkimWord.PASS),
    ]
    assert "does not match" in results[0].reason


def test_only_the_key_name_is_looked_up(rsa2048) -> None:
    zone = _zone(s1=_rsa_txt(rsa2048))
    verify_dkim(zone, _sign(MESSAGE, _pem(rsa2048)))
    assert zone.lookups == [("s1._domainkey.example.org", "TXT")]


# -- fail ----------------------------------------------------------------------------------


def test_changed_body_fails_with_body_hash_reason(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048))
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), signed.replace(b"are in", b"are out"))
    assert (result.result, result.reason) == (DkimWord.FAIL, "body hash did not verify")


def test_changed_signed_header_fails(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048))
    forged = signed.replace(b"Subject: quarterly numbers", b"Subject: wire the money")
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), forged)
    assert (result.result, result.reason) == (DkimWord.FAIL, "signature did not verify")


def test_a_second_from_added_on_top_fails(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048))
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), b"From: mallory@evil.test\r\n" + signed)
    assert result.result == DkimWord.FAIL


def test_expired_signature_fails_and_unexpired_passes(rsa2048) -> None:
    signed = _sign_with_tags(MESSAGE, _pem(rsa2048), [(b"t", b"1700000000"), (b"x", b"1700003600")])
    zone = _zone(s1=_rsa_txt(rsa2048))
    (before,) = verify_dkim(zone, signed, now=1700001000)
    (after,) = verify_dkim(zone, signed, now=1700003601)
    assert before.result == DkimWord.PASS, before.reason
    assert (after.result, after.reason) == (DkimWord.FAIL, "signature expired (x=1700003600)")


def test_timestamp_far_in_the_future_is_permerror(rsa2048) -> None:
    signed = _sign_with_tags(MESSAGE, _pem(rsa2048), [(b"t", b"1800000000")])
    zone = _zone(s1=_rsa_txt(rsa2048))
    assert verify_dkim(zone, signed, now=1800000000)[0].result == DkimWord.PASS
    (result,) = verify_dkim(zone, signed, now=1700000000)
    assert result.result == DkimWord.PERMERROR and "future" in result.reason


def test_expiry_before_timestamp_is_permerror(rsa2048) -> None:
    signed = _sign_with_tags(MESSAGE, _pem(rsa2048), [(b"t", b"1700000000"), (b"x", b"1600000000")])
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), signed, now=1700000000)
    assert result.result == DkimWord.PERMERROR and "before t=" in result.reason


# -- l= ------------------------------------------------------------------------------------


def test_length_covering_the_whole_body_passes(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048), length=True)
    assert b"l=" in signed.split(b"\r\nFrom:")[0]
    assert verify_dkim(_zone(s1=_rsa_txt(rsa2048)), signed)[0].result == DkimWord.PASS


def test_content_appended_after_l_is_never_a_pass(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048), length=True)
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), signed + b"Click here: evil.test\r\n")
    assert result.result == DkimWord.POLICY
    assert "unsigned content follows" in result.reason


def test_length_beyond_the_body_fails(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048), length=True)
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), signed.replace(b"are in.", b"in."))
    assert result.result == DkimWord.FAIL and "longer than the body" in result.reason


# -- keys ----------------------------------------------------------------------------------


def test_dns_failure_is_temperror(rsa2048) -> None:
    zone = DictResolver(
        {"s1._domainkey.example.org": {"TXT": [_rsa_txt(rsa2048)]}},
        temp_error_names=["s1._domainkey.example.org"],
    )
    (result,) = verify_dkim(zone, _sign(MESSAGE, _pem(rsa2048)))
    assert result.result == DkimWord.TEMPERROR and "key lookup failed" in result.reason


@pytest.mark.parametrize(
    "records", [{}, {"s1._domainkey.example.org": {"A": ["192.0.2.1"]}}], ids=["nxdomain", "nodata"]
)
def test_missing_key_is_permerror(rsa2048, records) -> None:
    (result,) = verify_dkim(DictResolver(records), _sign(MESSAGE, _pem(rsa2048)))
    assert result.result == DkimWord.PERMERROR and "no key" in result.reason


def test_revoked_key_is_permerror(rsa2048) -> None:
    (result,) = verify_dkim(_zone(s1="v=DKIM1; k=rsa; p="), _sign(MESSAGE, _pem(rsa2048)))
    assert result.result == DkimWord.PERMERROR and "revoked" in result.reason


def test_rsa_key_under_1024_bits_is_permerror() -> None:
    weak = _weak_rsa_key(512)
    (result,) = verify_dkim(_zone(s1=_rsa_txt(weak)), _sign(MESSAGE, _pem(weak)))
    assert result.result == DkimWord.PERMERROR and "RFC 8301" in result.reason


def test_key_under_the_configured_minimum_is_policy(rsa1024) -> None:
    signed, zone = _sign(MESSAGE, _pem(rsa1024)), _zone(s1=_rsa_txt(rsa1024))
    assert verify_dkim(zone, signed)[0].result == DkimWord.PASS
    (result,) = verify_dkim(zone, signed, min_rsa_bits=2048)
    assert result.result == DkimWord.POLICY and "minimum of 2048" in result.reason


def test_rsa_sha1_is_permerror(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048), signature_algorithm=b"rsa-sha1")
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), signed)
    assert result.result == DkimWord.PERMERROR and "rsa-sha1" in result.reason


def test_key_for_tls_reports_only_is_permerror(rsa2048) -> None:
    txt = _rsa_txt(rsa2048).replace("k=rsa;", "k=rsa; s=tlsrpt;")
    (result,) = verify_dkim(_zone(s1=txt), _sign(MESSAGE, _pem(rsa2048)))
    assert result.result == DkimWord.PERMERROR and "tlsrpt" in result.reason


# -- malformed input -----------------------------------------------------------------------


def test_signature_that_does_not_sign_from_is_permerror(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048), include_headers=[b"from", b"subject"])
    unsigned_from = signed.replace(b"h=from : subject", b"h=subject", 1)
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), unsigned_from)
    assert result.result == DkimWord.PERMERROR and "From" in result.reason


@pytest.mark.parametrize(
    "signature",
    [
        b"v=1; a=rsa-sha256; d=example.org; s=s1; h=from; bh=AAAA; b=!!!!",
        b"v=1; a=rsa-sha256; s=s1; h=from; bh=AAAA; b=AAAA",
        b"v=2; a=rsa-sha256; d=example.org; s=s1; h=from; bh=AAAA; b=AAAA",
        b"v=1; a=foo-sha256; d=example.org; s=s1; h=from; bh=AAAA; b=AAAA",
        b"v=1; a=rsa-sha256; d=example.org; s=s1; h=from; bh=AAAA; b=AAAA; c=odd/odd",
        b"v=1; a=rsa-sha256; d=example.org; s=s1; h=from; bh=AAAA; b=AAAA; l=x",
        b"v=1; a=rsa-sha256; d=example.org; s=s1; h=from; bh=AAAA; b=AAAA; i=@other.test",
        b"v=1; a=rsa-sha256; d=ex ample.org; s=s1; h=from; bh=AAAA; b=AAAA",
        b"v=1; v=1; a=rsa-sha256",
        b"garbage without tags",
    ],
)
def test_malformed_signature_is_permerror_not_an_exception(rsa2048, signature) -> None:
    message = b"DKIM-Signature: " + signature + b"\r\n" + MESSAGE
    (result,) = verify_dkim(_zone(s1=_rsa_txt(rsa2048)), message)
    assert result.result == DkimWord.PERMERROR, result
    assert result.reason


def test_bytes_flipped_anywhere_in_a_signature_never_raise(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048))
    header_end = signed.index(b"\r\nFrom:")
    zone = _zone(s1=_rsa_txt(rsa2048))
    rng = secrets.SystemRandom()
    for _ in range(200):
        at = rng.randrange(len(b"DKIM-Signature: "), header_end)
        mutated = signed[:at] + bytes([rng.choice(b";=: \t\xffAz0/+")]) + signed[at + 1 :]
        # One signature in, one result out, whatever the damage (an empty list would
        # hide the signature, not judge it).
        (result,) = verify_dkim(zone, mutated)
        assert result.result in DkimWord


def test_unparseable_header_section_is_one_permerror() -> None:
    (result,) = verify_dkim(_zone(), b"DKIM-Signature: v=1\r\nnot a header line\r\n\r\nbody\r\n")
    assert result.result == DkimWord.PERMERROR and "could not be parsed" in result.reason


def test_now_defaults_to_the_clock(rsa2048) -> None:
    soon = int(time.time()) + 3600
    signed = _sign_with_tags(MESSAGE, _pem(rsa2048), [(b"x", str(soon).encode())])
    assert verify_dkim(_zone(s1=_rsa_txt(rsa2048)), signed)[0].result == DkimWord.PASS


def test_signatures_past_the_tenth_are_not_looked_up(rsa2048) -> None:
    signed = _sign(MESSAGE, _pem(rsa2048))
    header = signed[: signed.index(b"From: Alice")]
    zone = _zone(s1=_rsa_txt(rsa2048))
    results = verify_dkim(zone, header * 12 + MESSAGE)
    assert [r.result for r in results] == [DkimWord.PASS] * 10 + [DkimWord.PERMERROR] * 2
    assert "only the first 10" in results[-1].reason
    assert len(zone.lookups) == 10
