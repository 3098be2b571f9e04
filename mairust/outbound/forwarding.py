"""Forwarding off the platform: what a routing rule that forwards a local address to a
remote one does to the message, and the way back for the bounces.

A forwarded copy leaves with its envelope sender rewritten by SRS (``srs.py``: SPF at the
next hop then checks our domain, not the original sender's) and with this hop's ARC set
(RFC 8617), made with the forwarding domain's active RSA DKIM key over the
``Authentication-Results`` the SMTP edge stamped at DATA, so the next hop can trust what we
saw. A domain without an RSA key forwards unsealed (logged): DKIM keys are the domain's
configuration, not an error; nor is a chain we cannot extend (a message that came with an
ARC chain our checks gave no ``arc=`` verdict for). ARC signs with rsa-sha256 only
(RFC 8617 §4.1.3 as dkimpy implements it), so an ed25519 key is never used here.

A bounce to one of our SRS addresses (a local part ``SRS0=…``/``SRS1=…`` at a domain of ours)
is reversed and relayed to the original sender; a wrong hash or stale day stamp is no
address of ours (the edge answers 550 5.1.1).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mairust.auth.arc import ArcSealError, seal_arc
from mairust.auth.headers import authentication_results
from mairust.auth.results import AuthResults
from mairust.config import Settings
from mairust.model.dkim_keys import DkimAlgorithm
from mairust.model.scope import PLATFORM
from mairust.outbound.dkim_signer import SigningKey
from mairust.outbound.srs import Srs, SrsError, is_srs_address
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.storage.protocols import DkimKeyStore

log = logging.getLogger(__name__)

# A domain → the key its forwarded mail is ARC-sealed with (None: it has none). Blocking.
ArcKeyLookup = Callable[[str], SigningKey | None]


@dataclass(frozen=True)
class Forwarder:
    """SRS and ARC for forwarded mail, and the reversal of SRS bounces.

    ``srs_domain`` is the domain our SRS addresses are made at (its MX must be us and its
    SPF must name our outbound addresses); None: the forwarding address's own domain,
    which is hosted here. ``authserv_id`` must be the one the edge stamps its
    ``Authentication-Results`` with."""

    srs: Srs
    authserv_id: str
    arc_key_for: ArcKeyLookup | None = None
    srs_domain: str | None = None

    def return_path(self, sender: str, forwarding_address: str) -> str:
        """The envelope sender of the copy forwarded for ``forwarding_address``; the null
        sender stays null. Raises InvalidSrsAddress when it cannot be rewritten."""
        domain = self.srs_domain or forwarding_address.rpartition("@")[2]
        return self.srs.forward(sender, domain)

    def is_bounce_address(self, address: str, domain_is_ours: bool) -> bool:
        """True when ``address`` is an SRS address we would have made: the SRS form at a
        domain hosted here (``domain_is_ours``) or at the configured SRS domain."""
        if not is_srs_address(address):
            return False
        domain = address.rpartition("@")[2].lower()
        return domain_is_ours or domain == (self.srs_domain or "").lower()

    def bounce_target(self, address: str) -> str:
        """Where a bounce to our SRS ``address`` goes. Raises SrsError (not ours, a wrong
        hash, a stale day stamp)."""
        return self.srs.reverse(address)

    def dsn_recipient(self, address: str, domain_is_ours: bool) -> str:
        """Where a DSN for the reverse path ``address`` goes: for one of our SRS addresses
        (a forwarded copy bounced here) the original sender, else ``address`` itself; an
        SRS address that no longer reverses stays as it is (it will bounce at RCPT)."""
        if not self.is_bounce_address(address, domain_is_ours):
            return address
        try:
            return self.bounce_target(address)
        except SrsError as error:
            log.info("DSN to %s: not reversed (%s)", address, error)
            return address

    def sealed(self, message: bytes, domain: str, stamped: AuthResults | None) -> bytes:
        """``message`` with this hop's ARC set on top, sealed for ``domain``; as it is when
        the domain has no RSA key or the chain cannot be extended.

        ``stamped``: the results the edge computed and stamped into ``message`` as our
        ``Authentication-Results`` (None: no checks ran, so the AAR says ``none``)."""
        key = self.arc_key_for(domain) if self.arc_key_for is not None else None
        if key is None:
            log.info("forwarded mail of %s not ARC-sealed: the domain has no RSA key", domain)
            return message
        value = (
            None if stamped is not None else authentication_results(self.authserv_id, AuthResults())
        )
        try:
            arc_set = seal_arc(
                message,
                selector=key.selector,
                domain=key.domain,
                private_key=key.private_pem,
                authserv_id=self.authserv_id,
                auth_results=value,
            )
        except ArcSealError as error:
            log.warning("forwarded mail of %s not ARC-sealed: %s", domain, error)
            return message
        return arc_set + message


def forwarding_orcpt(address: str) -> str:
    """The ORCPT (RFC 3461 section 4.2) of a forwarded copy: the forwarding address, as
    ``rfc822;`` xtext, always encoded (``wire_format.xtext`` keeps what already looks like
    xtext, right for a client's ORCPT, not for a raw address: ``a+AB@x`` would decode as
    another address)."""
    encoded = "".join(
        chr(b) if 0x21 <= b <= 0x7E and b not in (0x2B, 0x3D) else f"+{b:02X}"
        for b in address.encode("utf-8")
    )
    return f"rfc822;{encoded}"


def forwarder_from_settings(
    settings: Settings, keyring: Keyring, arc_key_for: ArcKeyLookup | None = None
) -> Forwarder | None:
    """The forwarder ``[forwarding]`` configures (None: forwarding is off), its SRS hashes
    keyed from ``keyring``, its authserv-id the one the edge stamps results with."""
    forwarding = settings.forwarding
    if not forwarding.enabled:
        return None
    return Forwarder(
        Srs(keyring.srs_keys(), max_age_days=forwarding.srs_max_age_days),
        settings.auth.authserv_id or settings.smtp.hostname,
        arc_key_for=arc_key_for,
        srs_domain=forwarding.srs_domain or None,
    )


class ArcKeys:
    """:data:`ArcKeyLookup` over the DKIM key store and the vault: a domain's active RSA
    key, opened once and cached for ``cache_seconds``; thread-safe."""

    def __init__(
        self,
        store: DkimKeyStore,
        vault: SecretVault,
        *,
        cache_seconds: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._vault = vault
        self._ttl = timedelta(seconds=cache_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[datetime, SigningKey | None]] = {}

    def key_for(self, domain: str) -> SigningKey | None:
        """The domain's active rsa key (None: it has none). StorageUnavailable when the
        store cannot answer."""
        name = domain.rstrip(".").lower()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = next(
            (k for k in self._store.active_dkim_keys(name) if k.algorithm is DkimAlgorithm.RSA2048),
            None,
        )
        key = (
            None
            if found is None
            else SigningKey(
                found.domain,
                found.selector,
                found.algorithm,
                self._vault.reveal(PLATFORM, found.secret_id),
            )
        )
        with self._lock:
            self._cache[name] = (now + self._ttl, key)
        return key
