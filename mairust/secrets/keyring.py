"""Master keys and what is derived from them: secret sealing, the token key, the SRS key.

A master key (32 random bytes, from ``secrets.key`` or the embedded key file) is never
used directly: HKDF-SHA-256 derives one subkey per purpose, so a key that signs API
token digests can never decrypt a secret, and the other way round. A key is named by a
key id, also derived by HKDF, so the id reveals nothing about the key.

A sealed secret is ``version (1 byte) | key id (8) | nonce (12) | AES-256-GCM ciphertext
and tag``. The associated data binds it to its row: the header, the secret's id, its
tenant and its purpose. A ciphertext copied into another row, another tenant or another
purpose does not open, and neither does one altered by a single bit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mairust.config import SECRETS_KEY_BYTES
from mairust.errors import MairustError

FORMAT_VERSION = 1
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12  # the GCM standard nonce; random, so at most ~2^32 seals per key
_HEADER_BYTES = 1 + _KEY_ID_BYTES
_TAG_BYTES = 16
_ENCRYPTION_INFO = b"mairust/secrets/aes-256-gcm/v1"
_TOKEN_DIGEST_INFO = b"mairust/api-tokens/hmac-sha256/v1"
_KEY_ID_INFO = b"mairust/secrets/key-id/v1"
_SRS_INFO = b"mairust/srs/hmac-sha1/v1"


class SecretUnreadable(MairustError):
    """A sealed secret does not open: sealed under a key we do not hold, altered, or
    moved to another row. Nothing was revealed."""


def _derive(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


@dataclass(frozen=True)
class MasterKey:
    """One master key's subkeys and id (the master key itself is not kept)."""

    key_id: str
    encryption_key: bytes = field(repr=False)
    token_digest_key: bytes = field(repr=False)
    srs_key: bytes = field(repr=False)

    @classmethod
    def from_bytes(cls, master: bytes) -> MasterKey:
        if len(master) != SECRETS_KEY_BYTES:
            raise ValueError(f"a master key is {SECRETS_KEY_BYTES} bytes, got {len(master)}")
        return cls(
            key_id=_derive(master, _KEY_ID_INFO, _KEY_ID_BYTES).hex(),
            encryption_key=_derive(master, _ENCRYPTION_INFO, 32),
            token_digest_key=_derive(master, _TOKEN_DIGEST_INFO, 32),
            srs_key=_derive(master, _SRS_INFO, 32),
        )


@dataclass(frozen=True)
class SecretBinding:
    """What a sealed secret is bound to (its associated data)."""

    secret_id: str
    tenant_id: str
    purpose: str

    def associated_data(self, header: bytes) -> bytes:
        # Length-prefixed fields: no choice of id, tenant and purpose encodes like another.
        parts = [header, self.secret_id.encode(), self.tenant_id.encode(), self.purpose.encode()]
        return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


class Keyring:
    """The current master key (seals) and the previous ones (still open what they sealed)."""

    def __init__(self, current: MasterKey, previous: Sequence[MasterKey] = ()) -> None:
        self.current = current
        self.previous = tuple(key for key in previous if key.key_id != current.key_id)
        self._by_id = {key.key_id: key for key in (*self.previous, current)}

    @classmethod
    def from_bytes(cls, current: bytes, previous: Sequence[bytes] = ()) -> Keyring:
        return cls(MasterKey.from_bytes(current), [MasterKey.from_bytes(key) for key in previous])

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The current key's id first, then the previous keys'."""
        return (self.current.key_id, *(key.key_id for key in self.previous))

    def token_digest_key(self) -> bytes:
        """The HMAC-SHA-256 key for new API token digests (from the current master key)."""
        return self.current.token_digest_key

    def token_digest_keys(self) -> tuple[bytes, ...]:
        """Every token digest key, current first: a token digested before a key rotation
        is found under a previous key for as long as that key is configured."""
        return (self.current.token_digest_key, *(key.token_digest_key for key in self.previous))

    def srs_keys(self) -> tuple[bytes, ...]:
        """The SRS hash secrets, current first: a bounce to an address rewritten before a
        key rotation still finds its way back while the old key is configured."""
        return (self.current.srs_key, *(key.srs_key for key in self.previous))

    def seal(self, plaintext: bytes, binding: SecretBinding) -> bytes:
        """``plaintext`` encrypted under the current key and bound to ``binding``."""
        header = bytes([FORMAT_VERSION]) + bytes.fromhex(self.current.key_id)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.current.encryption_key).encrypt(
            nonce, plaintext, binding.associated_data(header)
        )
        return header + nonce + sealed

    def open(self, sealed: bytes, binding: SecretBinding) -> bytes:
        """The plaintext of ``sealed``; SecretUnreadable if it does not open."""
        key_id = sealed_key_id(sealed, binding.secret_id)
        key = self._by_id.get(key_id)
        if key is None:
            raise SecretUnreadable(
                f"secret {binding.secret_id} was sealed with key {key_id}, which is neither "
                "secrets.key nor one of secrets.previous_keys"
            )
        header = sealed[:_HEADER_BYTES]
        nonce = sealed[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
        try:
            return AESGCM(key.encryption_key).decrypt(
                nonce, sealed[_HEADER_BYTES + _NONCE_BYTES :], binding.associated_data(header)
            )
        except InvalidTag:
            raise SecretUnreadable(
                f"secret {binding.secret_id} does not open under key {key_id}: "
                "altered, or not sealed for this id, tenant and purpose"
            ) from None


def sealed_key_id(sealed: bytes, secret_id: str = "?") -> str:
    """The id of the key that sealed ``sealed``; SecretUnreadable if it is no sealed secret."""
    if len(sealed) < _HEADER_BYTES + _NONCE_BYTES + _TAG_BYTES or sealed[0] != FORMAT_VERSION:
        raise SecretUnreadable(f"secret {secret_id} is not a sealed secret of this version")
    return sealed[1:_HEADER_BYTES].hex()
