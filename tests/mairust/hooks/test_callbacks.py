"""Callback tokens: valid for their job until they expire; another job's, an altered, a
foreign-keyed or a malformed token is refused; a previous key still verifies."""

from __future__ import annotations

import pytest

from mairust.errors import Unauthenticated
from mairust.hooks.callbacks import CallbackExpired, CallbackForged, CallbackTokens, callback_key

KEY = b"k" * 32
OLD = b"o" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_valid_for_its_job_until_it_expires() -> None:
    clock = Clock()
    tokens = CallbackTokens([callback_key(KEY)], clock=clock)
    token, expires = tokens.issue("job-1", 60)
    assert expires == 1_800_000_060
    assert tokens.check("job-1", token) == expires
    clock.now += 59
    assert tokens.check("job-1", token) == expires
    clock.now += 1
    with pytest.raises(CallbackExpired):
        tokens.check("job-1", token)


def test_forged_tokens_are_refused() -> None:
    clock = Clock()
    tokens = CallbackTokens([callback_key(KEY)], clock=clock)
    token, expires = tokens.issue("job-1", 60)
    with pytest.raises(CallbackForged):
        tokens.check("job-2", token)  # another job's
    with pytest.raises(CallbackForged):  # a later expiry written in
        tokens.check("job-1", f"{expires + 3600}.{token.partition('.')[2]}")
    mac = token.partition(".")[2]
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    with pytest.raises(CallbackForged):
        tokens.check("job-1", f"{expires}.{flipped}")
    elsewhere, _ = CallbackTokens([callback_key(b"x" * 32)], clock=clock).issue("job-1", 60)
    with pytest.raises(CallbackForged):
        tokens.check("job-1", elsewhere)
    # The digest key itself (not the derived callback key) signs nothing here either.
    raw, _ = CallbackTokens([KEY], clock=clock).issue("job-1", 60)
    with pytest.raises(CallbackForged):
        tokens.check("job-1", raw)


@pytest.mark.parametrize("token", [None, "", "abc", "123", "x.y", ".abc", "1" * 13 + ".abc"])
def test_missing_or_malformed_tokens_are_unauthenticated(token: str | None) -> None:
    tokens = CallbackTokens([callback_key(KEY)])
    with pytest.raises(Unauthenticated) as raised:
        tokens.check("job-1", token)
    assert not isinstance(raised.value, CallbackExpired)


def test_tokens_of_a_previous_key_still_verify_after_a_rotation() -> None:
    clock = Clock()
    before = CallbackTokens.from_digest_keys([OLD])
    token, _ = before.issue("job-1", 3600)
    after = CallbackTokens.from_digest_keys([KEY, OLD])
    assert after.check("job-1", token) > 0
    fresh, _ = after.issue("job-1", 3600)
    assert CallbackTokens.from_digest_keys([KEY]).check("job-1", fresh) > 0
    with pytest.raises(CallbackForged):
        CallbackTokens.from_digest_keys([KEY]).check("job-1", token)
    with pytest.raises(ValueError):
        CallbackTokens([], clock=clock)
