"""What the secret store says about a secret: never its value, only what it is for.

The value is sealed by :mod:`mairust.secrets` before it reaches a store; a store holds
:class:`SealedSecret` rows and hands out :class:`SecretRef`s for listings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SecretPurpose(StrEnum):
    """What a secret is used for: a closed set, one member per consumer."""

    WEBHOOK_SIGNING = "webhook-signing"
    DKIM_KEY = "dkim-key"
    PLUGIN = "plugin"
    RELAY_PASSWORD = "relay-password"  # a relay host's AUTH password ([relay] auth)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A secret as the API may show it: which one, what for, since when. No value."""

    id: str
    tenant_id: str | None  # None: the platform's own (a plugin's)
    purpose: SecretPurpose
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A stored secret: its reference, the id of the key that sealed it, the ciphertext."""

    ref: SecretRef
    key_id: str
    ciphertext: bytes

    def __repr__(self) -> str:  # ciphertext is not secret, but it is long and useless in logs
        return f"SealedSecret({self.ref!r}, key_id={self.key_id!r})"
