"""Each tenant's suppression list.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
Addresses are kept as :func:`mairust.model.suppression.suppression_key` makes them; every
call names its tenant (there is no "every tenant" here except for the operator's listing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mairust.model.suppression import Suppression


class SuppressionStore(Protocol):
    def add_suppressions(self, entries: Sequence[Suppression]) -> int:
        """Add entries; an address its tenant suppresses already keeps its first entry.
        Returns how many were new."""
        ...

    def remove_suppression(self, tenant_id: str, address: str) -> bool:
        """Remove one; False when it was not there."""
        ...

    def list_suppressions(
        self, tenant_id: str | None, limit: int = 100, after: str | None = None
    ) -> list[Suppression]:
        """A tenant's entries (None: every tenant's, the operator's view), by address,
        those after the address ``after`` (paging)."""
        ...

    def suppressed(self, tenant_id: str, addresses: Sequence[str]) -> dict[str, Suppression]:
        """Those of ``addresses`` the tenant suppresses, by the key they were asked with."""
        ...
