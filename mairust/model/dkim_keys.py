"""A sending domain's DKIM keys as they may be shown: selector, algorithm, public key, state.

The private half lives in the secret store (``secret_id``) and nowhere else; a key is
``active`` (outbound mail is signed with it) or ``retired`` (replaced by a rotation: its
DNS record stays published for a grace period so mail signed before still verifies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DkimAlgorithm(StrEnum):
    """The key types we sign with: RSA-2048 (rsa-sha256) and ed25519 (ed25519-sha256)."""

    RSA2048 = "rsa2048"
    ED25519 = "ed25519"

    @property
    def signature_algorithm(self) -> str:
        """The DKIM-Signature ``a=`` tag."""
        return "rsa-sha256" if self is DkimAlgorithm.RSA2048 else "ed25519-sha256"

    @property
    def key_type(self) -> str:
        """The DNS record's ``k=`` tag."""
        return "rsa" if self is DkimAlgorithm.RSA2048 else "ed25519"


class DkimKeyState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class DkimKey:
    """One key of a domain. ``public_key`` is the record's ``p=`` value (base64 of the DER
    SubjectPublicKeyInfo for rsa, of the 32 raw bytes for ed25519)."""

    id: str
    tenant_id: str
    domain: str
    selector: str
    algorithm: DkimAlgorithm
    public_key: str
    secret_id: str
    state: DkimKeyState
    created_at: datetime
    retired_at: datetime | None = None

    @property
    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def dns_record(self) -> str:
        """The TXT record to publish at :attr:`dns_name`."""
        return f"v=DKIM1; k={self.algorithm.key_type}; p={self.public_key}"
