"""Who acts, with what rights: roles, token permissions and the principal of one request.

A **role** says where someone stands: the platform ``admin`` (every tenant), a
``tenant_admin`` (one tenant), a ``user`` (one mailbox). A **permission** is what one API
token may do with that standing (``read``, ``write``, ``send``, ``admin``), so a read-only
token of a tenant admin still cannot change anything. The :class:`Principal` carries both,
with the :class:`Scope` that confines every store call and a name for the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mairust.model.scope import PLATFORM, PlatformScope, Scope, TenantScope


class Role(StrEnum):
    ADMIN = "admin"
    TENANT_ADMIN = "tenant_admin"
    USER = "user"


class Permission(StrEnum):
    """What a token may do (its "scopes" in OAuth words; ours are not tenant scopes)."""

    READ = "read"
    WRITE = "write"
    SEND = "send"
    ADMIN = "admin"


ALL_PERMISSIONS = frozenset(Permission)
# The rank of each role: a token or user never gets a role above its creator's.
_RANK = {Role.USER: 0, Role.TENANT_ADMIN: 1, Role.ADMIN: 2}


def outranks_or_equals(role: Role, other: Role) -> bool:
    return _RANK[role] >= _RANK[other]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request or command, as authentication established it."""

    role: Role
    scope: Scope
    permissions: frozenset[Permission]
    # For the audit log: "admin-token", "token:<id>", "cli".
    actor: str
    # Where the request came from, for the audit log: a client address, or "cli".
    source: str = "unknown"

    def __post_init__(self) -> None:
        platform = isinstance(self.scope, PlatformScope)
        if platform != (self.role is Role.ADMIN):
            raise ValueError("only the platform admin role holds the platform scope")
        if self.role is Role.USER and (
            not isinstance(self.scope, TenantScope) or self.scope.mailbox_id is None
        ):
            raise ValueError("a user's scope names the user's mailbox")

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def tenant_id(self) -> str | None:
        """The one tenant this principal is confined to; None for the platform admin."""
        return self.scope.tenant_id if isinstance(self.scope, TenantScope) else None

    @classmethod
    def platform(cls, actor: str, source: str) -> Principal:
        """The operator with every permission (the admin token, the local CLI)."""
        return cls(Role.ADMIN, PLATFORM, ALL_PERMISSIONS, actor, source)
