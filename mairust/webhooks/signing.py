"""Standard Webhooks signatures (v1, symmetric): sign what we send, verify what we receive.

The scheme (standard-webhooks spec v1): a secret ``whsec_<base64 key>``; the signed
content is ``"<webhook-id>.<webhook-timestamp>.<raw body>"``; the signature is
``v1,<base64 HMAC-SHA256(key, content)>`` in the ``webhook-signature`` header, which may
hold several space-separated signatures while a secret rotates (any one valid passes).
Verification compares in constant time, over the raw bytes received (never re-serialised
JSON), and refuses a timestamp more than ``tolerance`` seconds away from now (300 by
default, as the reference libraries do; exactly 300 is still accepted).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from mairust.errors import MairustError

SECRET_PREFIX = "whsec_"
VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
SECRET_BYTES = 32  # the spec asks for 24 to 64 bytes of key

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class InvalidSecret(MairustError):
    """Not a usable webhook secret (``whsec_`` + base64 of a non-empty key)."""


class SignatureInvalid(MairustError):
    """A webhook request whose signature does not verify; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook signature invalid: {reason}")
        self.reason = reason


def generate_secret() -> str:
    """A fresh random secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret`` (the ``whsec_`` prefix is optional, as in the spec's libs)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidSecret("a webhook secret is whsec_ followed by base64") from error
    if not key:
        raise InvalidSecret("a webhook secret needs a non-empty key")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) of one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a webhook request carries."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check a received webhook; return its ``webhook-id``, or raise SignatureInvalid."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get(ID_HEADER)
    stamp = lowered.get(TIMESTAMP_HEADER)
    signatures = lowered.get(SIGNATURE_HEADER)
    if not msg_id or not stamp or not signatures:
        raise SignatureInvalid("missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isascii() or not stamp.isdigit():
        raise SignatureInvalid(f"timestamp is not whole seconds: {stamp!r}")
    timestamp = int(stamp)
    if now - timestamp > tolerance:
        raise SignatureInvalid(f"timestamp too old ({now - timestamp:.0f} s)")
    if timestamp - now > tolerance:
        raise SignatureInvalid(f"timestamp too new ({timestamp - now:.0f} s ahead)")
    expected = sign(secret, msg_id, timestamp, body).encode()
    # Compare every candidate (no early exit) so timing tells nothing about which matched.
    matched = False
    for candidate in signatures.split(" "):
        version, _, _value = candidate.partition(",")
        if version != VERSION:
            continue
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise SignatureInvalid("no v1 signature matches")
    return msg_id
