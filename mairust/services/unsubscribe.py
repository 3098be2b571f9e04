"""One-click unsubscribe (RFC 8058): a recipient's mail provider POSTs the link a message
carried, and the address joins its sender's suppression list (reason ``unsubscribe``).

There is no caller to authorise: the signed token is the credential, and it names the
tenant and the one address it may suppress (``mairust.outbound.unsubscribe``). A forged,
altered or expired token is a 404 and changes nothing; a token used twice leaves the one
entry (the first reason an address was suppressed for is kept). The suppression entry is
the record of it: its detail says it came through the link and from which client.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mairust.model.suppression import Suppression, SuppressionReason, suppression_key
from mairust.outbound.unsubscribe import UnsubscribeClaim, UnsubscribeTokens
from mairust.services.audit import Clock, utc_now
from mairust.storage.protocols import SuppressionStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """What the link did: the address is suppressed now (``added``: by this request)."""

    claim: UnsubscribeClaim
    added: bool


class UnsubscribeService:
    def __init__(
        self, store: SuppressionStore, tokens: UnsubscribeTokens, clock: Clock = utc_now
    ) -> None:
        self.tokens = tokens
        self._store = store
        self._clock = clock

    def unsubscribe(self, token: str, source: str = "unknown") -> Unsubscribed:
        """Suppress the address ``token`` names in its tenant; NotFound for a token that
        is not valid (see :class:`~mairust.outbound.unsubscribe.NotAnUnsubscribeToken`)."""
        claim = self.tokens.open(token)
        entry = Suppression(
            tenant_id=claim.tenant_id,
            address=suppression_key(claim.address),
            reason=SuppressionReason.UNSUBSCRIBE,
            created_at=self._clock(),
            detail=f"one-click unsubscribe (RFC 8058) from {source[:64]}",
        )
        added = self._store.add_suppressions([entry]) == 1
        log.info(
            "unsubscribe: %s in tenant %s (%s)",
            entry.address,
            claim.tenant_id,
            "added" if added else "already suppressed",
        )
        return Unsubscribed(claim, added)
