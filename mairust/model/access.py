"""API tokens and audit records as the stores keep them (values, no I/O).

A token's secret part is never here: the store keeps only its HMAC digest, and the
service shows the token once, when it is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mairust.model.principal import Permission, Role


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    name: str
    role: Role
    # None only for a platform admin token; a user's token names the user's mailbox.
    tenant_id: str | None
    mailbox_id: str | None
    permissions: frozenset[Permission]
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable_at(self, moment: datetime) -> bool:
        """Not revoked and not expired at ``moment``."""
        if self.revoked_at is not None and self.revoked_at <= moment:
            return False
        return self.expires_at is None or moment < self.expires_at


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One admin or tenant-admin action: who, what, when, from where."""

    id: str
    at: datetime
    tenant_id: str | None  # the tenant acted on; None for platform-wide actions
    actor: str
    role: Role
    action: str  # "domain.create", "token.revoke", ...
    target: str  # what it acted on: a domain name, a token id, an address
    source: str  # where from: the client address, or "cli"
    details: dict[str, Any] | None = None
