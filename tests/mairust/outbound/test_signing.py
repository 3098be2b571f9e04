"""Signing a submission: the From header's domain when it has keys, else the envelope
sender's, else nothing; the signature verifies (dkimpy) over the bytes as committed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import dkim  # type: ignore[import-untyped]

from mairust.model.dkim_keys import DkimAlgorithm
from mairust.outbound.dkim_signer import (
    DkimSigner,
    SigningKey,
    dns_record_text,
    private_key_pem,
    public_key_text,
)
from mairust.outbound.signing import (
    INLINE_SIGNING_MAX_BYTES,
    Cache,
    header_from_domain,
    signed_from_cache,
    signed_submission,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEY = SigningKey(
    "brand.example", "s1", DkimAlgorithm.ED25519, private_key_pem(DkimAlgorithm.ED25519)
)
SIGNER = DkimSigner((KEY,), clock=lambda: NOW)
RECORD = dns_record_text(KEY.algorithm, public_key_text(KEY.algorithm, KEY.private_pem))


def lookup(domain: str) -> DkimSigner | None:
    return SIGNER if domain == "brand.example" else None


def message(from_header: str) -> bytes:
    return f"From: {from_header}\r\nTo: x@far.test\r\nSubject: hi\r\n\r\nbody\r\n".encode()


def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
    wanted = name.decode().rstrip(".")
    return RECORD.encode() if wanted == "s1._domainkey.brand.example" else b""


def test_the_from_domain_signs_and_the_signature_verifies() -> None:
    original = message('"Brand" <news@Brand.Example>')
    signed = signed_submission(lookup, original, "bounces@other.example")
    assert signed.endswith(original) and signed.startswith(b"DKIM-Signature:")
    assert b"d=brand.example" in signed and b"s=s1" in signed
    assert dkim.DKIM(signed).verify(dnsfunc=dnsfunc)


def test_the_envelope_domain_signs_when_the_from_domain_has_no_keys() -> None:
    signed = signed_submission(lookup, message("a@nokeys.example"), "bounce@brand.example")
    assert b"d=brand.example" in signed


def test_no_keys_anywhere_leaves_the_message_as_it_was() -> None:
    original = message("a@nokeys.example")
    assert signed_submission(lookup, original, "b@other.example") is original
    assert signed_submission(lookup, original, "") is original


def test_signing_from_the_cache_signs_as_the_blocking_path_does() -> None:
    cached = {"brand.example": SIGNER, "nokeys.example": None}

    def at_hand(domain: str) -> DkimSigner | Literal[Cache.MISS] | None:
        return cached.get(domain, Cache.MISS)

    original = message("news@brand.example")
    signed = signed_from_cache(at_hand, original, "bounces@other.example")
    assert signed == signed_submission(lookup, original, "bounces@other.example")
    assert signed is not None and dkim.DKIM(signed).verify(dnsfunc=dnsfunc)
    # A cached "no keys" for the From domain goes on to the envelope's domain, as above.
    fallback = signed_from_cache(at_hand, message("a@nokeys.example"), "b@brand.example")
    assert fallback is not None and b"d=brand.example" in fallback
    plain = message("a@nokeys.example")
    assert signed_from_cache(at_hand, plain, "") is plain


def test_signing_from_the_cache_declines_a_miss_and_a_big_message() -> None:
    cached = {"brand.example": SIGNER}

    def at_hand(domain: str) -> DkimSigner | Literal[Cache.MISS] | None:
        return cached.get(domain, Cache.MISS)

    # The From domain not cached: the answer needs the store, so a thread must give it.
    assert signed_from_cache(at_hand, message("a@unknown.example"), "b@brand.example") is None
    big = message("news@brand.example") + b"x" * INLINE_SIGNING_MAX_BYTES
    assert signed_from_cache(at_hand, big, "b@brand.example") is None
    assert signed_from_cache(at_hand, message("news@brand.example"), "") is not None


def test_the_from_header_is_read_folded_and_only_in_the_header_block() -> None:
    folded = b"Subject: x\r\nFrom: A\r\n <a@Folded.example>\r\n\r\nFrom: b@body.example\r\n"
    assert header_from_domain(folded) == "folded.example"
    assert header_from_domain(b"Subject: x\r\n\r\nFrom: b@body.example\r\n") is None
    assert header_from_domain(b"From: undisclosed-recipients:;\r\n\r\n") is None
