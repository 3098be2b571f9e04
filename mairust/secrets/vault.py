"""``SecretVault``: create, list, delete and (internally) reveal tenants' secrets, and the
platform's own (plugin secrets).

The facade the application services call. ``create`` returns a :class:`SecretRef` and
nothing a caller could read the value back from; ``reveal`` is for the platform's own
use (the webhook signer, later DKIM signing and plugin configuration) and must never
feed an API response. ``rotate`` re-seals every secret under the current master key.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mairust.errors import InvalidInput
from mairust.model.ids import new_id
from mairust.model.scope import Scope, TenantScope
from mairust.model.secrets import SealedSecret, SecretPurpose, SecretRef
from mairust.secrets.keyring import Keyring, SecretBinding, SecretUnreadable
from mairust.storage.protocols import SecretStore

log = logging.getLogger(__name__)

MAX_SECRET_BYTES = 64 * 1024  # a DKIM RSA-4096 key in PEM is ~3.3 KB; this is plenty


@dataclass
class RotationProgress:
    """Where a key rotation stands; reported after each page of secrets."""

    key_id: str
    examined: int = 0
    resealed: int = 0
    already_current: int = 0
    # Changed or deleted while we worked on them: left as they now are.
    skipped: int = 0
    unreadable: list[str] = field(default_factory=list)


class SecretVault:
    """Tenants' secrets over a :class:`SecretStore`, sealed with a :class:`Keyring`."""

    def __init__(self, store: SecretStore, keyring: Keyring) -> None:
        self._store = store
        self._keyring = keyring

    def create(self, scope: TenantScope, purpose: SecretPurpose, value: bytes) -> SecretRef:
        """Seal and store ``value`` for the scope's tenant; the value is not returned, now
        or later (except to the platform through :meth:`reveal`)."""
        if scope.mailbox_id is not None:
            raise InvalidInput("secrets belong to a tenant, not to a mailbox")
        if not value or len(value) > MAX_SECRET_BYTES:
            raise InvalidInput(f"a secret is 1 to {MAX_SECRET_BYTES} bytes")
        ref = SecretRef(new_id(), scope.tenant_id, purpose, datetime.now(UTC))
        ciphertext = self._keyring.seal(value, _binding(ref))
        self._store.put_secret(SealedSecret(ref, self._keyring.current.key_id, ciphertext))
        log.info("secret %s (%s) created for tenant %s", ref.id, purpose, ref.tenant_id)
        return ref

    def create_platform(self, purpose: SecretPurpose, value: bytes) -> SecretRef:
        """Seal and store a secret of the platform's own (no tenant sees it), e.g. one a
        plugin needs; read back only through :meth:`reveal` with the platform scope."""
        if not value or len(value) > MAX_SECRET_BYTES:
            raise InvalidInput(f"a secret is 1 to {MAX_SECRET_BYTES} bytes")
        ref = SecretRef(new_id(), None, purpose, datetime.now(UTC))
        ciphertext = self._keyring.seal(value, _binding(ref))
        self._store.put_secret(SealedSecret(ref, self._keyring.current.key_id, ciphertext))
        log.info("platform secret %s (%s) created", ref.id, purpose)
        return ref

    def reveal(self, scope: Scope, secret_id: str) -> bytes:
        """The value, for the platform's own use only. NotFound outside ``scope``;
        SecretUnreadable if it does not open (unknown key, altered, moved)."""
        sealed = self._store.get_secret(scope, secret_id)
        return self._keyring.open(sealed.ciphertext, _binding(sealed.ref))

    def get(self, scope: Scope, secret_id: str) -> SecretRef:
        """The reference (no value); NotFound outside ``scope``."""
        return self._store.get_secret(scope, secret_id).ref

    def delete(self, scope: Scope, secret_id: str) -> None:
        """Remove it; NotFound outside ``scope``."""
        self._store.delete_secret(scope, secret_id)
        log.info("secret %s deleted", secret_id)

    def list(self, scope: Scope, purpose: SecretPurpose | None = None) -> builtins.list[SecretRef]:
        """References (no values) of the secrets in ``scope``, by tenant, oldest first."""
        return self._store.list_secrets(scope, purpose)

    def rotate(
        self,
        progress: Callable[[RotationProgress], None] | None = None,
        page_size: int = 200,
    ) -> RotationProgress:
        """Re-seal under the current key every secret sealed under a previous one.

        Idempotent and safe to interrupt or run beside a live platform: each row is
        replaced only if it still holds what was read (a secret deleted meanwhile stays
        deleted). A secret that does not open is left as it is and listed in
        ``unreadable``; the others are still rotated.
        """
        state = RotationProgress(key_id=self._keyring.current.key_id)
        after: str | None = None
        while page := self._store.sealed_secrets_page(after, page_size):
            for sealed in page:
                self._reseal(sealed, state)
            after = page[-1].ref.id
            if progress is not None:
                progress(state)
        return state

    def _reseal(self, sealed: SealedSecret, state: RotationProgress) -> None:
        state.examined += 1
        if sealed.key_id == state.key_id:
            state.already_current += 1
            return
        binding = _binding(sealed.ref)
        try:
            value = self._keyring.open(sealed.ciphertext, binding)
        except SecretUnreadable as error:
            log.error("key rotation left %s as it is: %s", sealed.ref.id, error)
            state.unreadable.append(sealed.ref.id)
            return
        resealed = self._keyring.seal(value, binding)
        if self._store.replace_sealed_secret(sealed, state.key_id, resealed):
            state.resealed += 1
        else:
            state.skipped += 1

    def count_by_key(self) -> dict[str, int]:
        """How many secrets each key id sealed (every tenant): once no secret is under a
        previous key, that key can leave ``secrets.previous_keys``."""
        return self._store.count_secrets_by_key()


def _binding(ref: SecretRef) -> SecretBinding:
    # The platform's own secrets are bound to "" (no tenant id is empty).
    return SecretBinding(ref.id, ref.tenant_id or "", ref.purpose.value)
