"""Who is asking: every tenant-owned read or write goes through a scope (invariant 5)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """``tenant_id=None`` is the operator (admin) scope, which sees every tenant."""

    tenant_id: str | None

    @classmethod
    def admin(cls) -> Scope:
        return cls(tenant_id=None)

    @classmethod
    def tenant(cls, tenant_id: str) -> Scope:
        return cls(tenant_id=tenant_id)

    @property
    def is_admin(self) -> bool:
        return self.tenant_id is None
