"""One-click unsubscribe tokens: what one names, and every way one is refused alike."""

from __future__ import annotations

import base64
import hmac
import json

import pytest

from mairust.errors import NotFound
from mairust.outbound.unsubscribe import (
    MAX_TOKEN_LENGTH,
    NotAnUnsubscribeToken,
    UnsubscribeClaim,
    UnsubscribeTokens,
    unsubscribe_headers,
    unsubscribe_key,
    unsubscribe_link,
)

KEY = b"k" * 32
OLD_KEY = b"o" * 32
NOW = 1_800_000_000.0
DAY = 86400.0


def tokens(*keys: bytes, now: float = NOW) -> UnsubscribeTokens:
    return UnsubscribeTokens.from_digest_keys(keys or (KEY,), clock=lambda: now)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_names_its_tenant_address_and_expiry():
    token = tokens().issue("T1", "Joe@Remote.example", 30 * DAY)
    assert token.startswith("u1.") and token.isascii() and len(token) < MAX_TOKEN_LENGTH
    assert tokens().open(token) == UnsubscribeClaim("T1", "Joe@Remote.example", int(NOW + 30 * DAY))


def test_an_expired_token_is_refused_as_a_missing_one():
    token = tokens().issue("T1", "joe@remote.example", DAY)
    assert tokens(now=NOW + DAY - 1).open(token).tenant_id == "T1"
    with pytest.raises(NotAnUnsubscribeToken) as refused:
        tokens(now=NOW + DAY).open(token)
    assert isinstance(refused.value, NotFound)


def test_a_token_for_another_tenant_cannot_be_made_by_editing_one():
    token = tokens().issue("T1", "joe@remote.example", DAY)
    _, _, mac = token.split(".")
    # The same address in another tenant, with the first token's MAC: forged.
    other = b64(json.dumps(["T2", "joe@remote.example", int(NOW + DAY)]).encode())
    with pytest.raises(NotAnUnsubscribeToken):
        tokens().open(f"u1.{other}.{mac}")
    # And a later expiry, likewise.
    later = b64(json.dumps(["T1", "joe@remote.example", int(NOW + 900 * DAY)]).encode())
    with pytest.raises(NotAnUnsubscribeToken):
        tokens().open(f"u1.{later}.{mac}")


def test_tokens_of_another_server_key_are_forged_and_of_a_previous_one_still_work():
    foreign = UnsubscribeTokens.from_digest_keys([b"x" * 32], clock=lambda: NOW)
    with pytest.raises(NotAnUnsubscribeToken):
        tokens().open(foreign.issue("T1", "joe@remote.example", DAY))
    before_rotation = tokens(OLD_KEY).issue("T1", "joe@remote.example", DAY)
    assert tokens(KEY, OLD_KEY).open(before_rotation).address == "joe@remote.example"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "u1",
        "u1..",
        "u2.e30.AAAA",
        "u1.@@@.@@@",
        "u1.é.x",
        "u1." + "A" * MAX_TOKEN_LENGTH,
    ],
)
def test_malformed_tokens_are_refused_alike(token: str):
    with pytest.raises(NotAnUnsubscribeToken):
        tokens().open(token)


def test_a_signed_payload_that_is_no_claim_is_still_refused():
    # Only reachable with the key; checked so that a bug elsewhere cannot make a 500.
    signer = tokens()
    for claim in ([1, 2, 3], ["T1", "", 5], {"a": 1}, "x"):
        payload = b64(json.dumps(claim).encode())
        mac = b64(hmac.new(unsubscribe_key(KEY), payload.encode(), "sha256").digest())
        with pytest.raises(NotAnUnsubscribeToken):
            signer.open(f"u1.{payload}.{mac}")


def test_the_header_pair_is_rfc_8058s():
    link = unsubscribe_link("https://mail.example.com/", "u1.abc.def")
    assert link == "https://mail.example.com/api/v1/unsubscribe/u1.abc.def"
    assert unsubscribe_headers(link) == (
        ("List-Unsubscribe", f"<{link}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )
