"""Sending domains' DKIM keys (public halves, states; the private halves are secrets).

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mairust.model.dkim_keys import DkimKey
from mairust.model.scope import Scope


class DkimKeyStore(Protocol):
    def add_dkim_key(self, key: DkimKey) -> None:
        """Stores ``key``. NotFound unless its domain is a local domain of its tenant;
        Conflict if the domain has that selector already, or (for an active key) an
        active key of that algorithm already."""
        ...

    def list_dkim_keys(self, scope: Scope, domain: str) -> list[DkimKey]:
        """The domain's keys inside ``scope`` (active and retired), oldest first; empty
        outside it (a user's scope holds none)."""
        ...

    def active_dkim_keys(self, domain: str) -> list[DkimKey]:
        """The domain's active keys, every tenant (the signing side's read)."""
        ...

    def rotate_dkim_key(self, old: DkimKey, new: DkimKey, retired_at: datetime) -> None:
        """In one transaction: ``old`` retired at ``retired_at`` and ``new`` stored active.
        Conflict (nothing changed) if ``old`` is no longer active: another rotation won."""
        ...

    def purge_dkim_keys(self, scope: Scope, domain: str, retired_before: datetime) -> list[DkimKey]:
        """Deletes the domain's keys (inside ``scope``) retired before ``retired_before``
        and returns them (their secrets are the caller's to delete)."""
        ...
