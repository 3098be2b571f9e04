"""The ed25519 signature of a plugin package, kept DETACHED beside it as ``FILE.sig``.

Detached, because what is signed is the package's SHA-256: a signature inside the archive
would change the bytes it signs. ``FILE.sig`` is a small JSON document::

    {"format": "mairust-plugin-signature/1", "key_id": "acme-2026",
     "sha256": "<hex of the package>", "signature": "<base64 ed25519 signature>"}

The signed message is ``b"mairust-plugin-package/1\\n" + sha256 digest (32 bytes)``: the
prefix keeps a package signature from meaning anything in another protocol that uses the
same key. A key id is the publisher's name for its key; the operator trusts keys by id
(``[plugins] trusted_keys``). Verification recomputes the SHA-256 of the file, finds the
signature's key among the trusted ones and checks the signature against that digest, so a
changed package, an unknown key and a missing signature are each refused with their own
reason (:class:`SignatureRefused`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mairust.config import decode_public_key
from mairust.errors import InvalidInput

SIGNATURE_SUFFIX = ".sig"
SIGNATURE_FORMAT = "mairust-plugin-signature/1"
_SIGNED_PREFIX = b"mairust-plugin-package/1\n"
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MAX_SIGNATURE_FILE = 4096


class SignatureRefused(InvalidInput):
    """A package whose signature is missing, unknown or wrong; the message says which."""


@dataclass(frozen=True, slots=True)
class PackageSignature:
    key_id: str
    sha256: str  # hex
    signature: bytes

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": SIGNATURE_FORMAT,
                "key_id": self.key_id,
                "sha256": self.sha256,
                "signature": base64.b64encode(self.signature).decode(),
            },
            indent=2,
        )

    @classmethod
    def parse(cls, text: bytes) -> PackageSignature:
        """The signature in ``text``; SignatureRefused for anything malformed."""
        if len(text) > _MAX_SIGNATURE_FILE:
            raise SignatureRefused("the signature file is too large to be one")
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != SIGNATURE_FORMAT:
                raise ValueError(f"not a {SIGNATURE_FORMAT} document")
            key_id, digest = str(data["key_id"]), str(data["sha256"]).lower()
            signature = base64.b64decode(str(data["signature"]), validate=True)
        except (ValueError, KeyError, binascii.Error) as error:
            raise SignatureRefused(f"the signature file is malformed: {error}") from None
        if not _KEY_ID.fullmatch(key_id) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise SignatureRefused("the signature file is malformed: bad key_id or sha256")
        return cls(key_id, digest, signature)


@dataclass(frozen=True, slots=True)
class Verified:
    """What a check found: the package's SHA-256 and who signed it (None: unsigned and
    allowed)."""

    sha256: str
    signed_by: str | None


def signature_path(package: Path) -> Path:
    return package.with_name(package.name + SIGNATURE_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as content:
        while chunk := content.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def check_key_id(key_id: str) -> str:
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidInput(f"{key_id!r} is not a key id (1-64 of A-Z a-z 0-9 . _ -)")
    return key_id


def generate_key_pair(directory: Path, key_id: str) -> tuple[Path, Path, str]:
    """Writes ``<id>.key`` (PKCS#8 PEM, mode 0600) and ``<id>.pub`` (base64 raw public
    key) in ``directory``; both paths and the public key. Refuses to overwrite."""
    check_key_id(key_id)
    private = Ed25519PrivateKey.generate()
    public = base64.b64encode(
        private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    ).decode()
    directory.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = directory / f"{key_id}.key", directory / f"{key_id}.pub"
    for path in (key_path, pub_path):
        if path.exists():
            raise InvalidInput(f"{path} exists already: not overwriting a key")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    pub_path.write_text(public + "\n")
    return key_path, pub_path, public


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise InvalidInput(f"cannot read the private key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{path} is not an ed25519 private key")
    return key


def sign_package(package: Path, key: Ed25519PrivateKey, key_id: str) -> Path:
    """Writes ``package``'s detached signature beside it; its path."""
    check_key_id(key_id)
    digest = file_sha256(package)
    signature = key.sign(_SIGNED_PREFIX + bytes.fromhex(digest))
    target = signature_path(package)
    target.write_text(PackageSignature(key_id, digest, signature).to_json() + "\n")
    return target


class TrustedKeys:
    """The operator's trusted public keys, by id."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_config(cls, configured: Mapping[str, str]) -> TrustedKeys:
        """From ``[plugins] trusted_keys`` (id -> base64 raw public key)."""
        return cls(
            {
                key_id: Ed25519PublicKey.from_public_bytes(decode_public_key(value))
                for key_id, value in configured.items()
            }
        )

    def ids(self) -> list[str]:
        return sorted(self._keys)

    def verify(self, package: Path, signature: bytes | None, allow_unsigned: bool) -> Verified:
        """Checks ``package`` against its signature file's content (None: none found)."""
        digest = file_sha256(package)
        if signature is None:
            if allow_unsigned:
                return Verified(digest, None)
            raise SignatureRefused(
                f"{package.name} is not signed (no {package.name}{SIGNATURE_SUFFIX}); "
                "unsigned packages are refused unless plugins.allow_unsigned_files is set"
            )
        parsed = PackageSignature.parse(signature)
        key = self._keys.get(parsed.key_id)
        if key is None:
            trusted = ", ".join(self.ids()) or "none"
            raise SignatureRefused(
                f"{package.name} is signed by key {parsed.key_id!r}, which is not trusted "
                f"(plugins.trusted_keys: {trusted})"
            )
        if parsed.sha256 != digest:
            raise SignatureRefused(
                f"{package.name} does not match its signature: its SHA-256 is {digest}, "
                f"the signature is for {parsed.sha256} (changed after signing?)"
            )
        try:
            key.verify(parsed.signature, _SIGNED_PREFIX + bytes.fromhex(digest))
        except InvalidSignature:
            raise SignatureRefused(
                f"{package.name}: the signature does not verify with key {parsed.key_id!r} "
                "(tampered, or signed by another key)"
            ) from None
        return Verified(digest, parsed.key_id)
