"""verify_dkim against published vectors: RFC 8463's example and dkimpy's test data.

Data in tests/data/dkim (provenance in its SOURCES.md). Every signed vector passes with
its published key, fails when its body is changed, and each broken key of dkimpy's set is a
``permerror``.
"""

from __future__ import annotations

import re
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest

from mairust.auth.dkim import verify_dkim
from mairust.auth.results import DkimWord
from tests.support.dict_resolver import DictResolver

DATA = Path(__file__).parents[2] / "data" / "dkim"


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _key(name: str) -> str:
    return (DATA / name).read_text().strip()


def _zone_file(name: str) -> dict[str, dict[str, list[str]]]:
    """`<name>. IN TXT "..." "..."` lines into resolver records."""
    records: dict[str, dict[str, list[str]]] = {}
    for line in (DATA / name).read_text().splitlines():
        if " TXT " in line:
            owner = line.split()[0].rstrip(".")
            text = "".join(re.findall(r'"([^"]*)"', line))
            records.setdefault(owner, {"TXT": []})["TXT"].append(text)
    return records


def _tamper(message: bytes) -> bytes:
    """The first "e" of the body made upper case."""
    sep = b"\r\n\r\n" if b"\r\n\r\n" in message else b"\n\n"
    head, _, body = message.partition(sep)
    return head + sep + body.replace(b"e", b"E", 1)


RFC8463 = _zone_file("rfc8463/rfc8463-A2-keys.txt")
EXAMPLE_COM_TEST = {"test._domainkey.example.com": {"TXT": [_key("test.txt")]}}


# -- RFC 8463 A.3 --------------------------------------------------------------------------


def test_rfc8463_example_has_both_signatures_passing() -> None:
    results = verify_dkim(DictResolver(RFC8463), _read("rfc8463/rfc8463-A3-signed.eml"))
    assert [(r.result, r.selector, r.algorithm) for r in results] == [
        (DkimWord.PASS, "brisbane", "ed25519-sha256"),
        (DkimWord.PASS, "test", "rsa-sha256"),
    ]
    assert {r.domain for r in results} == {"football.example.com"}


def test_rfc8463_example_with_changed_body_fails_both() -> None:
    message = _tamper(_read("rfc8463/rfc8463-A3-signed.eml"))
    results = verify_dkim(DictResolver(RFC8463), message)
    assert [(r.result, r.reason) for r in results] == [
        (DkimWord.FAIL, "body hash did not verify")
    ] * 2


def test_rfc8463_keys_swapped_are_refused() -> None:
    swapped = {
        "brisbane._domainkey.football.example.com": RFC8463["test._domainkey.football.example.com"],
        "test._domainkey.football.example.com": RFC8463["brisbane._domainkey.football.example.com"],
    }
    results = verify_dkim(DictResolver(swapped), _read("rfc8463/rfc8463-A3-signed.eml"))
    assert [r.result for r in results] == [DkimWord.PERMERROR, DkimWord.PERMERROR]


def test_dkimpy_rfc6376_signed_message_passes_both() -> None:
    zone = DictResolver(
        RFC8463 | {"test._domainkey.football.example.com": {"TXT": [_key("test.txt")]}}
    )
    results = verify_dkim(zone, _read("rfc6376.signed.msg"))
    assert [r.result for r in results] == [DkimWord.PASS, DkimWord.PASS]


def test_rfc8032_test_key_signs_what_the_rfc8463_key_verifies() -> None:
    signed = dkim.sign(
        _read("rfc6376.msg"),
        b"brisbane",
        b"football.example.com",
        _read("rfc8032_7_1.key"),
        signature_algorithm=b"ed25519-sha256",
    )
    message = signed + _read("rfc6376.msg")
    (result,) = verify_dkim(DictResolver(RFC8463), message)
    assert result.result == DkimWord.PASS, result.reason
    assert verify_dkim(DictResolver(RFC8463), _tamper(message))[0].result == DkimWord.FAIL


# -- dkimpy's vectors ----------------------------------------------------------------------


@pytest.mark.parametrize("header_canon", [b"simple", b"relaxed"])
@pytest.mark.parametrize("body_canon", [b"simple", b"relaxed"])
@pytest.mark.parametrize("key_file", ["test.txt", "test2.txt"], ids=["explicit-k", "implicit-k"])
def test_dkimpy_test_message_signed_with_test_key_passes(
    header_canon, body_canon, key_file
) -> None:
    message = _read("test.message")
    signed = (
        dkim.sign(
            message,
            b"test",
            b"example.com",
            _read("test.private"),
            canonicalize=(header_canon, body_canon),
        )
        + message
    )
    zone = DictResolver({"test._domainkey.example.com": {"TXT": [_key(key_file)]}})
    (result,) = verify_dkim(zone, signed)
    assert result.result == DkimWord.PASS, result.reason
    (tampered,) = verify_dkim(zone, signed + b"appended\r\n")
    assert (tampered.result, tampered.reason) == (DkimWord.FAIL, "body hash did not verify")


@pytest.mark.parametrize("name", ["message.mbox", "test_extra.message"])
def test_extra_headers_above_from_still_verify(name) -> None:
    message = _read(name)
    signer = dkim.DKIM(message)
    signer.should_not_sign.remove(b"received")  # dkimpy's bug needs a repeated header signed
    signed = (
        signer.sign(
            b"test",
            b"example.com",
            _read("test.private"),
            include_headers=signer.all_sign_headers(),
        )
        + message
    )
    ours, *earlier = verify_dkim(DictResolver(EXAMPLE_COM_TEST), signed)
    assert ours.result == DkimWord.PASS, ours.reason
    # message.mbox also carries kitterman.com's own 2011 signature, whose key we do not serve.
    assert [(r.domain, r.result) for r in earlier] == [
        ("kitterman.com", DkimWord.PERMERROR) for _ in earlier
    ]
    assert len(earlier) == (1 if name == "message.mbox" else 0)


def test_gmail_message_with_degenerate_folding_passes() -> None:
    zone = DictResolver({"20120113._domainkey.gmail.com": {"TXT": [_key("gmail-20120113.txt")]}})
    (result,) = verify_dkim(zone, _read("test2.message"))
    assert (result.result, result.domain, result.selector) == (
        DkimWord.PASS,
        "gmail.com",
        "20120113",
    )
    assert verify_dkim(zone, _tamper(_read("test2.message")))[0].result == DkimWord.FAIL


def test_ed25519_test_message_signed_with_its_key_passes() -> None:
    message = _read("ed25519test.msg")
    signed = (
        dkim.sign(
            message,
            b"test",
            b"example.com",
            _read("ed25519test.key"),
            signature_algorithm=b"ed25519-sha256",
        )
        + message
    )
    zone = DictResolver({"test._domainkey.example.com": {"TXT": [_key("ed25519test.dns")]}})
    (result,) = verify_dkim(zone, signed)
    assert (result.result, result.algorithm) == (DkimWord.PASS, "ed25519-sha256")
    assert verify_dkim(zone, _tamper(signed))[0].result == DkimWord.FAIL


def test_exim_ed25519_signature_passes() -> None:
    zone = DictResolver({"sed._domainkey.test.ex": {"TXT": [_key("eximtest.dns")]}})
    (result,) = verify_dkim(zone, _read("ed25519test2.msg"))
    assert (result.result, result.domain) == (DkimWord.PASS, "test.ex"), result.reason


@pytest.mark.parametrize(
    ("key_file", "reason"),
    [
        ("badk.txt", "unknown algorithm in k="),
        ("badversion.txt", "bad version"),
        ("test_bad.txt", "could not parse RSA public key"),
        ("test_tlsrpt.txt", "TLS reports only"),
    ],
)
def test_dkimpy_broken_keys_are_permerror(key_file, reason) -> None:
    message = _read("test.message")
    signed = dkim.sign(message, b"test", b"example.com", _read("test.private")) + message
    zone = DictResolver({"test._domainkey.example.com": {"TXT": [_key(key_file)]}})
    (result,) = verify_dkim(zone, signed)
    assert result.result == DkimWord.PERMERROR
    assert reason in result.reason


def test_message_without_from_cannot_be_signed_and_is_none_unsigned() -> None:
    message = _read("test_nofrom.message")
    with pytest.raises(dkim.ParameterError):
        dkim.sign(message, b"test", b"example.com", _read("test.private"))
    assert [r.result for r in verify_dkim(DictResolver({}), message)] == [DkimWord.NONE]
