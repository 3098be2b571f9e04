"""The outbound DKIM signer: what it signs verifies with dkimpy (and with our own verifier,
through the resolver contract), for rsa-sha256 and ed25519-sha256 at once; a changed body or
signed header fails; relaxed canonicalisation by the RFC's own examples; bad input refused.
(OpenDKIM's view is tests/integration/test_dkim_signing_opendkim.py.)"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import dkim  # type: ignore[import-untyped]
import pytest

from mairust.auth.dkim import verify_dkim
from mairust.auth.results import DkimWord
from mairust.errors import InvalidInput
from mairust.model.dkim_keys import DkimAlgorithm
from mairust.outbound.dkim_signer import (
    DkimSigner,
    SigningKey,
    dns_record_text,
    private_key_pem,
    public_key_text,
    relaxed_body,
    relaxed_header,
    split_message,
)
from tests.support.dict_resolver import DictResolver

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.net>\r\n"
    b"Subject: a signed\r\n  and folded   subject\r\n"
    b"Date: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <signed-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"X-Unsigned: anything\r\n"
    b"\r\n"
    b"Hello  there, \t with blanks   \r\n"
    b"\r\n"
    b"Bye.\r\n"
    b"\r\n\r\n"
)
RSA_PEM = private_key_pem(DkimAlgorithm.RSA2048)
ED_PEM = private_key_pem(DkimAlgorithm.ED25519)
KEYS = (
    SigningKey("example.org", "rsa1", DkimAlgorithm.RSA2048, RSA_PEM),
    SigningKey("example.org", "ed1", DkimAlgorithm.ED25519, ED_PEM),
)
RECORDS = {
    f"{key.selector}._domainkey.example.org": dns_record_text(
        key.algorithm, public_key_text(key.algorithm, key.private_pem)
    )
    for key in KEYS
}


def _dnsfunc(name: bytes, timeout: int = 5) -> bytes:
    return RECORDS.get(name.decode().rstrip("."), "").encode()


def _dkimpy_verdicts(message: bytes) -> list[bool]:
    checker = dkim.DKIM(message)
    count = sum(1 for name, _ in split_message(message)[0] if name == "dkim-signature")
    return [_dkimpy_verdict(checker, i) for i in range(count)]


def _dkimpy_verdict(checker: dkim.DKIM, idx: int) -> bool:
    try:
        return bool(checker.verify(idx=idx, dnsfunc=_dnsfunc))
    except dkim.ValidationError:  # dkimpy raises for some failures (body hash, x=)
        return False


def _signer(**kwargs: object) -> DkimSigner:
    return DkimSigner(KEYS, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_both_signatures_verify_with_dkimpy_and_our_verifier() -> None:
    signed = _signer().signed(MESSAGE)
    assert signed.endswith(MESSAGE)
    assert _dkimpy_verdicts(signed) == [True, True]
    resolver = DictResolver({name: {"TXT": [text]} for name, text in RECORDS.items()})
    results = verify_dkim(resolver, signed, now=NOW.timestamp())
    assert [(r.result, r.algorithm, r.selector) for r in results] == [
        (DkimWord.PASS, "rsa-sha256", "rsa1"),
        (DkimWord.PASS, "ed25519-sha256", "ed1"),
    ]


@pytest.mark.parametrize(
    "change",
    [
        (b"Bye.", b"Bye!"),  # body
        (b"Subject: a signed", b"Subject: a forged"),  # a signed header
        (b"From: Alice", b"From: Mallory <m@evil.test>\r\nFrom: Alice"),  # an added From
        (b"X-Unsigned: anything\r\n", b"X-Unsigned: anything\r\nReply-To: m@evil.test\r\n"),
    ],
)
def test_a_change_to_what_is_signed_fails_both(change: tuple[bytes, bytes]) -> None:
    signed = _signer().signed(MESSAGE)
    assert _dkimpy_verdicts(signed.replace(*change)) == [False, False]


def test_changes_relaxed_canonicalisation_ignores_still_verify() -> None:
    signed = _signer().signed(MESSAGE)
    rewrapped = signed.replace(b"Hello  there,", b"Hello there, ").replace(
        b"X-Unsigned: anything", b"X-Unsigned: changed in transit"
    )
    assert _dkimpy_verdicts(rewrapped + b"\r\n\r\n") == [True, True]


def test_tags_time_expiry_and_no_body_length() -> None:
    fields = _signer(expire_after=timedelta(days=7)).sign(MESSAGE)
    first = fields.split(b"\r\nDKIM-Signature:")[0]
    unfolded = first.replace(b"\r\n\t", b" ")
    assert b"; l=" not in unfolded and b" c=relaxed/relaxed;" in unfolded
    assert f"t={int(NOW.timestamp())};".encode() in unfolded
    assert f"x={int(NOW.timestamp()) + 7 * 86400};".encode() in unfolded
    h = unfolded.split(b"h=")[1].split(b";")[0].replace(b" ", b"").split(b":")
    # Present fields once per occurrence, From and the other singletons once more.
    assert h.count(b"from") == 2 and h.count(b"subject") == 2 and h.count(b"reply-to") == 1
    assert b"x-unsigned" not in h and h.count(b"content-type") == 1
    assert all(len(line) <= 78 for line in fields.split(b"\r\n"))
    assert _dkimpy_verdicts(fields + MESSAGE) == [True, True]


def test_an_expired_signature_is_refused() -> None:
    signed = DkimSigner(
        KEYS[:1], clock=lambda: datetime(2020, 1, 1, tzinfo=UTC), expire_after=timedelta(days=1)
    ).signed(MESSAGE)
    assert _dkimpy_verdicts(signed) == [False]


def test_headers_only_and_empty_body_messages_verify() -> None:
    for message in (b"From: a@example.org\r\nSubject: x\r\n", b"From: a@example.org\r\n\r\n"):
        assert _dkimpy_verdicts(_signer().signed(message)) == [True, True]


def test_relaxed_canonicalisation_matches_rfc_6376_example() -> None:
    # RFC 6376 §3.4.5.
    assert relaxed_header(b"A: X") == b"a:X\r\n"
    assert relaxed_header(b"B : Y\t\r\n\tZ  ") == b"b:Y Z\r\n"
    assert relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n") == b" C\r\nD E\r\n"
    assert relaxed_body(b"") == b"" and relaxed_body(b"\r\n\r\n") == b""
    assert relaxed_body(b"no newline  ") == b"no newline\r\n"


@pytest.mark.parametrize("message", [b"From: a@example.org\n\nbody\n", b"From: a\r\n\r\nx\ry\r\n"])
def test_bare_cr_or_lf_is_refused(message: bytes) -> None:
    with pytest.raises(InvalidInput, match="CRLF"):
        _signer().sign(message)


def test_keys_of_the_wrong_type_or_size_are_refused() -> None:
    with pytest.raises(InvalidInput, match="ed25519"):
        DkimSigner([SigningKey("example.org", "s", DkimAlgorithm.ED25519, RSA_PEM)])
    with pytest.raises(InvalidInput, match="RSA"):
        DkimSigner([SigningKey("example.org", "s", DkimAlgorithm.RSA2048, ED_PEM)])
    with pytest.raises(InvalidInput, match="PEM"):
        DkimSigner([SigningKey("example.org", "s", DkimAlgorithm.RSA2048, b"nope")])
    with pytest.raises(InvalidInput):
        DkimSigner([])
    assert "PRIVATE" not in repr(KEYS[0]) and repr(KEYS[0]).startswith("SigningKey(")


def test_dns_record_text_per_key_type() -> None:
    ed = public_key_text(DkimAlgorithm.ED25519, ED_PEM)
    assert dns_record_text(DkimAlgorithm.ED25519, ed) == f"v=DKIM1; k=ed25519; p={ed}"
    assert len(ed) == 44  # 32 raw bytes (RFC 8463 §4.2)
    assert dns_record_text(DkimAlgorithm.RSA2048, "AB").startswith("v=DKIM1; k=rsa; p=")


def test_relaxed_canonicalisation_agrees_with_dkimpy_on_random_input() -> None:
    from dkim.canonicalization import Relaxed  # type: ignore[import-untyped]

    rng = random.Random(6376)
    pieces = [b" ", b"\t", b"  ", b"a", b"b c", b"\r\n", b"\r\n\r\n", b" \r\n", b"\t\r\n"]
    for _ in range(500):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        # A body without a final CRLF gets one in SMTP before the verifier sees it, which
        # we canonicalise for (its last line's trailing WSP then goes); dkimpy keeps one SP.
        body += b"\r\n" if body and not body.endswith(b"\r\n") else b""
        assert relaxed_body(body) == Relaxed.canonicalize_body(body), body
        value = b"".join(rng.choice([b" ", b"\t", b"x", b"y z", b"\r\n "]) for _ in range(12))
        ((name, canonical),) = Relaxed.canonicalize_headers([(b"Sub ject ", value)])
        assert relaxed_header(b"Sub ject :" + value) == name + b":" + canonical, value
