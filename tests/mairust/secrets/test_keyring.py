"""Sealing and opening secrets: round trip, the wrong key, alterations, old keys, subkeys."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from mairust.secrets.keyring import Keyring, MasterKey, SecretBinding, SecretUnreadable

BINDING = SecretBinding("01SECRET", "01TENANT", "webhook-signing")
KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def test_round_trip_and_every_seal_differs() -> None:
    keyring = Keyring.from_bytes(KEY_A)
    first, second = keyring.seal(b"whsec_value", BINDING), keyring.seal(b"whsec_value", BINDING)
    assert first != second  # a fresh nonce each time
    assert b"whsec_value" not in first
    assert keyring.open(first, BINDING) == keyring.open(second, BINDING) == b"whsec_value"


def test_the_wrong_key_is_a_domain_error_naming_the_key() -> None:
    sealed = Keyring.from_bytes(KEY_A).seal(b"value", BINDING)
    other = Keyring.from_bytes(KEY_B)
    with pytest.raises(SecretUnreadable, match=MasterKey.from_bytes(KEY_A).key_id) as caught:
        other.open(sealed, BINDING)
    assert "previous_keys" in str(caught.value)


@pytest.mark.parametrize("position", [0, 1, 9, 20, -1])
def test_a_changed_byte_is_refused(position: int) -> None:
    keyring = Keyring.from_bytes(KEY_A)
    sealed = bytearray(keyring.seal(b"value", BINDING))
    sealed[position] ^= 0x01
    with pytest.raises(SecretUnreadable):
        keyring.open(bytes(sealed), BINDING)


@pytest.mark.parametrize(
    "moved",
    [
        SecretBinding("01OTHER", "01TENANT", "webhook-signing"),
        SecretBinding("01SECRET", "01OTHERTENANT", "webhook-signing"),
        SecretBinding("01SECRET", "01TENANT", "dkim-key"),
        # The same characters split differently must not bind alike.
        SecretBinding("01SECRET0", "1TENANT", "webhook-signing"),
    ],
)
def test_a_ciphertext_bound_elsewhere_does_not_open(moved: SecretBinding) -> None:
    keyring = Keyring.from_bytes(KEY_A)
    sealed = keyring.seal(b"value", BINDING)
    with pytest.raises(SecretUnreadable, match="not sealed for this id, tenant and purpose"):
        keyring.open(sealed, moved)
    assert keyring.open(sealed, BINDING) == b"value"


@pytest.mark.parametrize("sealed", [b"", b"\x01", b"\x02" + bytes(40), bytes(20)])
def test_what_is_no_sealed_secret_is_refused(sealed: bytes) -> None:
    with pytest.raises(SecretUnreadable):
        Keyring.from_bytes(KEY_A).open(sealed, BINDING)


def test_a_previous_key_still_opens_and_the_current_one_seals() -> None:
    old = Keyring.from_bytes(KEY_A).seal(b"value", BINDING)
    rotated = Keyring.from_bytes(KEY_B, previous=[KEY_A])
    assert rotated.open(old, BINDING) == b"value"
    new = rotated.seal(b"value", BINDING)
    assert new[1:9].hex() == rotated.current.key_id == MasterKey.from_bytes(KEY_B).key_id
    with pytest.raises(SecretUnreadable):
        Keyring.from_bytes(KEY_A).open(new, BINDING)
    assert rotated.key_ids == (
        MasterKey.from_bytes(KEY_B).key_id,
        MasterKey.from_bytes(KEY_A).key_id,
    )


def test_subkeys_are_stable_distinct_and_not_the_master_key() -> None:
    first, again, other = (MasterKey.from_bytes(key) for key in (KEY_A, KEY_A, KEY_B))
    assert first == again
    assert len({first.encryption_key, first.token_digest_key, KEY_A}) == 3
    assert first.token_digest_key != other.token_digest_key
    assert len(bytes.fromhex(first.key_id)) == 8 and first.key_id not in KEY_A.hex()
    assert "encryption_key" not in repr(first) and first.encryption_key.hex() not in repr(first)


def test_token_digest_keys_current_first_then_previous() -> None:
    keyring = Keyring.from_bytes(KEY_B, previous=[KEY_A, KEY_B])  # the current key once only
    current, previous = MasterKey.from_bytes(KEY_B), MasterKey.from_bytes(KEY_A)
    assert keyring.token_digest_key() == current.token_digest_key
    assert keyring.token_digest_keys() == (current.token_digest_key, previous.token_digest_key)
    # What the token service does with it: an HMAC-SHA-256 digest, stable across restarts.
    digest = hmac.new(keyring.token_digest_key(), b"token", hashlib.sha256).hexdigest()
    again = Keyring.from_bytes(KEY_B).token_digest_key()
    assert digest == hmac.new(again, b"token", hashlib.sha256).hexdigest()


def test_a_master_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MasterKey.from_bytes(os.urandom(16))
