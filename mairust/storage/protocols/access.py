"""Who may do what, and what they did: API tokens, the audit log, sealed secrets.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mairust.model.access import ApiToken, AuditRecord
from mairust.model.scope import Scope
from mairust.model.secrets import SealedSecret, SecretPurpose, SecretRef


class TokenStore(Protocol):
    """API tokens, kept as the HMAC digest of the token (the service computes it)."""

    def add_token(self, token: ApiToken, digest: str) -> None: ...

    def find_token(self, digest: str) -> ApiToken | None:
        """The token with this digest, whatever its state (the caller checks it)."""
        ...

    def list_tokens(
        self, scope: Scope, limit: int = 100, after: str | None = None
    ) -> list[ApiToken]:
        """By id; ``after`` is the last id of the previous page."""
        ...

    def get_token(self, scope: Scope, token_id: str) -> ApiToken:
        """NotFound if absent or outside the scope."""
        ...

    def revoke_token(self, scope: Scope, token_id: str, at: datetime) -> ApiToken:
        """Revoked from ``at`` (a second revoke keeps the first time); NotFound outside."""
        ...

    def touch_token(self, token_id: str, at: datetime) -> None:
        """Remember when the token was last used."""
        ...


class AuditStore(Protocol):
    """The audit log: append-only."""

    def append_audit(self, record: AuditRecord) -> None: ...

    def list_audit(
        self, scope: Scope, limit: int = 50, before: str | None = None
    ) -> list[AuditRecord]:
        """Newest first; ``before`` is a record id from a previous page (exclusive)."""
        ...


class SecretStore(Protocol):
    """Sealed secrets of tenants. The store never sees a value: ``mairust.secrets`` seals
    it first (the ciphertext is bound to the row's id, tenant and purpose).

    Every read and delete is reached through a scope: a secret of another tenant is
    NotFound. Secrets belong to a tenant, not a mailbox: a scope that names a mailbox
    sees none.
    """

    def put_secret(self, secret: SealedSecret) -> None:
        """Insert a sealed secret under its own id; NotFound if its tenant does not exist,
        Conflict if the id is taken."""
        ...

    def get_secret(self, scope: Scope, secret_id: str) -> SealedSecret:
        """The sealed secret; NotFound if absent or outside ``scope``."""
        ...

    def delete_secret(self, scope: Scope, secret_id: str) -> None:
        """Remove it; NotFound if absent or outside ``scope``."""
        ...

    def list_secrets(self, scope: Scope, purpose: SecretPurpose | None = None) -> list[SecretRef]:
        """References only (no ciphertext), by tenant, then oldest first."""
        ...

    def sealed_secrets_page(self, after: str | None, limit: int) -> list[SealedSecret]:
        """Every tenant's sealed secrets with id > ``after``, by id (for key rotation)."""
        ...

    def replace_sealed_secret(self, old: SealedSecret, new_key_id: str, ciphertext: bytes) -> bool:
        """Store ``ciphertext`` (sealed under ``new_key_id``) in place of ``old``'s, only if
        the row still holds ``old.ciphertext``; False when it changed or is gone."""
        ...

    def count_secrets_by_key(self) -> dict[str, int]:
        """How many secrets each key id sealed (every tenant)."""
