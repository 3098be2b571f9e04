"""Sending domains' DKIM keys: generate, rotate, list (public halves only), what to publish,
and the signer the delivery side uses.

A key's private half is sealed in the secret store (purpose ``dkim-key``, the domain's
tenant) and never returned by any method here; what callers get is a
:class:`~mairust.model.dkim_keys.DkimKey` (selector, algorithm, public key, state). A
domain has at most one active key per algorithm: ``keygen`` adds one, ``rotate`` replaces
each active key (or the one of an algorithm) by a new one under a new selector and retires
the old, whose DNS record stays published for ``grace`` so mail signed before the rotation
still verifies; keys retired longer than that are deleted, with their secrets, at the next
rotation. Another tenant's domain is NotFound. Keygen and rotation are audited.
"""

from __future__ import annotations

import builtins
import logging
import re
from datetime import datetime, timedelta

from mairust.errors import Conflict, InvalidInput
from mairust.model.directory import Domain
from mairust.model.dkim_keys import DkimAlgorithm, DkimKey, DkimKeyState
from mairust.model.ids import new_id
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.outbound.dkim_signer import DkimSigner, private_key_pem, public_key_text
from mairust.outbound.dkim_signers import DkimSigners
from mairust.secrets.vault import SecretVault
from mairust.services.access import require
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.services.directory import DirectoryService
from mairust.storage.protocols import DkimKeyStore

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(days=7)
# One or more DNS labels (RFC 6376 §3.1: a selector may have periods), lower case.
_SELECTOR = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)


class DkimKeyService:
    def __init__(
        self,
        directory: DirectoryService,
        store: DkimKeyStore,
        vault: SecretVault | None,
        audit: AuditTrail,
        clock: Clock = utc_now,
        grace: timedelta = DEFAULT_GRACE,
        signers: DkimSigners | None = None,
    ) -> None:
        """``vault`` seals the private keys (None: no keyring configured, so keys can be
        listed but not made, and nothing is signed); ``signers`` caches the signers
        (default: one over the same store and vault)."""
        self._directory = directory
        self._store = store
        self._vault = vault
        self._audit = audit
        self._clock = clock
        self._grace = grace
        if signers is None and vault is not None:
            signers = DkimSigners(store, vault, clock=clock)
        self._signers = signers

    def keygen(
        self,
        principal: Principal,
        domain: str,
        algorithm: DkimAlgorithm = DkimAlgorithm.RSA2048,
        selector: str | None = None,
    ) -> DkimKey:
        """A new active key of ``algorithm`` for ``domain``. Conflict if the domain has an
        active key of that algorithm (rotate it) or the selector is taken."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        if selector is not None and not _SELECTOR.match(selector):
            raise InvalidInput(f"not a DKIM selector (DNS labels, lower case): {selector!r}")
        key = self._make(owned, algorithm, selector)
        self._audit.record(
            principal,
            "dkim.keygen",
            f"{owned.name}/{key.selector}",
            owned.tenant_id,
            {"algorithm": algorithm.value},
        )
        return key

    def rotate(
        self, principal: Principal, domain: str, algorithm: DkimAlgorithm | None = None
    ) -> list[DkimKey]:
        """Each active key (of ``algorithm`` only, when given) replaced by a new one under
        a new selector; the new keys. Conflict if there is none to rotate."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        now = self._clock()
        active = [
            key
            for key in self._store.active_dkim_keys(owned.name)
            if algorithm is None or key.algorithm is algorithm
        ]
        if not active:
            raise Conflict(f"{owned.name} has no active DKIM key to rotate: make one first")
        made = []
        for old in active:
            new = self._sealed_key(owned, old.algorithm, None, now)
            try:
                self._store.rotate_dkim_key(old, new, now)
            except Exception:
                self._sealing().delete(TenantScope(owned.tenant_id), new.secret_id)
                raise
            made.append(new)
            self._audit.record(
                principal,
                "dkim.rotate",
                f"{owned.name}/{new.selector}",
                owned.tenant_id,
                {"algorithm": new.algorithm.value, "retired": old.selector},
            )
        self._purge(owned, now)
        self._forget(owned.name)
        return made

    def list(self, principal: Principal, domain: str) -> list[DkimKey]:
        """The domain's keys, active and retired, oldest first (public halves only)."""
        require(principal, Permission.READ, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        return self._store.list_dkim_keys(TenantScope(owned.tenant_id), owned.name)

    def published(self, owned: Domain) -> builtins.list[DkimKey]:
        """The keys whose records ``owned`` publishes: the active ones and those retired
        within the grace period. A domain with no key at all gets an RSA-2048 one made
        (the DNS helper shows a DKIM record from the first request on). For callers that
        checked ownership already (the DNS helper)."""
        scope = TenantScope(owned.tenant_id)
        keys = self._store.list_dkim_keys(scope, owned.name)
        if not keys:
            try:
                keys = [self._make(owned, DkimAlgorithm.RSA2048, None)]
            except Conflict:  # another request made it first: theirs it is
                keys = self._store.list_dkim_keys(scope, owned.name)
        cutoff = self._clock() - self._grace
        return [
            key
            for key in keys
            if key.state is DkimKeyState.ACTIVE
            or (key.retired_at is not None and key.retired_at >= cutoff)
        ]

    def signer_for(self, domain: str) -> DkimSigner | None:
        """The signer of ``domain``'s active keys, None when it has none (or no secret
        store is configured): the platform's own path, no principal."""
        if self._signers is None:
            return None
        return self._signers.signer_for(domain)

    def _make(self, owned: Domain, algorithm: DkimAlgorithm, selector: str | None) -> DkimKey:
        key = self._sealed_key(owned, algorithm, selector, self._clock())
        try:
            self._store.add_dkim_key(key)
        except Exception:
            self._sealing().delete(TenantScope(owned.tenant_id), key.secret_id)
            raise
        self._forget(owned.name)
        log.info("DKIM key %s (%s) made for %s", key.selector, algorithm.value, owned.name)
        return key

    def _sealed_key(
        self, owned: Domain, algorithm: DkimAlgorithm, selector: str | None, now: datetime
    ) -> DkimKey:
        """A new key, its private half sealed in the vault (not yet in the key store)."""
        vault = self._sealing()
        if selector is None:
            selector = self._free_selector(owned, algorithm, now)
        pem = private_key_pem(algorithm)
        ref = vault.create(TenantScope(owned.tenant_id), SecretPurpose.DKIM_KEY, pem)
        return DkimKey(
            id=new_id(),
            tenant_id=owned.tenant_id,
            domain=owned.name,
            selector=selector,
            algorithm=algorithm,
            public_key=public_key_text(algorithm, pem),
            secret_id=ref.id,
            state=DkimKeyState.ACTIVE,
            created_at=now,
        )

    def _free_selector(self, owned: Domain, algorithm: DkimAlgorithm, now: datetime) -> str:
        """``mr<yyyymm>`` (``e`` appended for ed25519), then ``-2``, ``-3``… if taken."""
        base = f"mr{now:%Y%m}" + ("e" if algorithm is DkimAlgorithm.ED25519 else "")
        taken = {
            k.selector for k in self._store.list_dkim_keys(TenantScope(owned.tenant_id), owned.name)
        }
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        return candidate

    def _purge(self, owned: Domain, now: datetime) -> None:
        scope = TenantScope(owned.tenant_id)
        for gone in self._store.purge_dkim_keys(scope, owned.name, now - self._grace):
            self._sealing().delete(scope, gone.secret_id)
            log.info("retired DKIM key %s of %s deleted", gone.selector, owned.name)

    def _forget(self, domain: str) -> None:
        if self._signers is not None:
            self._signers.forget(domain)

    def _sealing(self) -> SecretVault:
        if self._vault is None:
            raise InvalidInput("this platform has no secret key configured (secrets.key)")
        return self._vault
