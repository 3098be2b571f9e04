"""Signing a submission: the From header's domain when it has keys, else the envelope
sender's, else nothing; the signature verifies (dkimpy) over the bytes as committed."""

from __future__ import annotations

from datetime import UTC, datetime

import dkim  # type: ignore[import-untyped]

from mairust.model.dkim_keys import DkimAlgorithm
from mairust.outbound.dkim_signer import (
    DkimSigner,
    SigningKey,
    dns_record_text,
    private_key_pem,
    public_key_text,
)
from mairust.outbound.signing import header_from_domain, signed_submission

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


def test_the_from_header_is_read_folded_and_only_in_the_header_block() -> None:
    folded = b"Subject: x\r\nFrom: A\r\n <a@Folded.example>\r\n\r\nFrom: b@body.example\r\n"
    assert header_from_domain(folded) == "folded.example"
    assert header_from_domain(b"Subject: x\r\n\r\nFrom: b@body.example\r\n") is None
    assert header_from_domain(b"From: undisclosed-recipients:;\r\n\r\n") is None
