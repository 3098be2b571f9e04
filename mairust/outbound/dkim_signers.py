"""Which signer signs a sending domain's mail: its active DKIM keys, opened once and cached.

The delivery and submission side asks :meth:`DkimSigners.signer_for` per message; building
a signer opens the private keys from the secret store and parses them (an RSA key check
costs milliseconds), so signers are cached per domain for ``cache_seconds``. A key rotated
by another process is picked up when the entry expires; meanwhile mail is still signed
with the retired key, whose DNS record stays published for the rotation's grace period,
so it still verifies. A domain without an active key gets ``None``: sent unsigned, not an
error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from mairust.config import DkimSettings
from mairust.model.scope import PLATFORM
from mairust.outbound.dkim_signer import DkimSigner, SigningKey
from mairust.outbound.signing import Cache
from mairust.secrets.vault import SecretVault
from mairust.storage.protocols import DkimKeyStore

log = logging.getLogger(__name__)

DEFAULT_CACHE_SECONDS = 60.0


class DkimSigners:
    """Signers by domain over the key store and the vault; thread-safe."""

    def __init__(
        self,
        store: DkimKeyStore,
        vault: SecretVault,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        expire_after: timedelta | None = None,
    ) -> None:
        """``expire_after`` puts ``x=`` on the signatures (None: no expiry)."""
        self._store = store
        self._vault = vault
        self._clock = clock
        self._ttl = timedelta(seconds=cache_seconds)
        self._expire_after = expire_after
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[datetime, DkimSigner | None]] = {}

    @classmethod
    def from_settings(
        cls,
        store: DkimKeyStore,
        vault: SecretVault,
        settings: DkimSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> DkimSigners:
        """Signers as ``[dkim]`` configures them (cache time, ``x=``)."""
        days = settings.signature_expire_days
        return cls(
            store,
            vault,
            clock=clock,
            cache_seconds=settings.signer_cache_seconds,
            expire_after=timedelta(days=days) if days else None,
        )

    def signer_for(self, domain: str) -> DkimSigner | None:
        """The signer for ``domain``'s active keys (rsa and ed25519 when both are), None
        when it has none. StorageUnavailable when the store cannot answer."""
        name = domain.rstrip(".").lower()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        signer = self._build(name)
        with self._lock:
            self._cache[name] = (now + self._ttl, signer)
        return signer

    def cached_signer_for(self, domain: str) -> DkimSigner | Literal[Cache.MISS] | None:
        """What :meth:`signer_for` would answer, if it can without reading the store;
        ``Cache.MISS`` otherwise. Never blocks (an event loop may call it)."""
        with self._lock:
            cached = self._cache.get(domain.rstrip(".").lower())
        if cached is None or cached[0] <= self._clock():
            return Cache.MISS
        return cached[1]

    def forget(self, domain: str) -> None:
        """Drop the cached signer (this process changed the domain's keys)."""
        with self._lock:
            self._cache.pop(domain.rstrip(".").lower(), None)

    def _build(self, domain: str) -> DkimSigner | None:
        keys = self._store.active_dkim_keys(domain)
        if not keys:
            return None
        signing = [
            SigningKey(
                key.domain, key.selector, key.algorithm, self._vault.reveal(PLATFORM, key.secret_id)
            )
            for key in keys
        ]
        log.debug("DKIM signer for %s: %s", domain, ", ".join(k.selector for k in keys))
        return DkimSigner(signing, clock=self._clock, expire_after=self._expire_after)
