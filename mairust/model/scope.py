"""Who is asking: every tenant-owned read or write goes through a scope (invariant 5).

Two kinds, told apart by type and never by a missing value: :class:`PlatformScope` is the
operator's and sees every tenant; :class:`TenantScope` always names one tenant, and a
``user`` token's scope names one mailbox too. A tenant scope cannot widen to "all": there
is no value of it that means every tenant, so a store that forgets a case fails closed
(``match`` on the two types; ``assert_never`` for the rest).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlatformScope:
    """The operator (platform ``admin``): every tenant, every mailbox."""


@dataclass(frozen=True, slots=True)
class TenantScope:
    """One tenant; with ``mailbox_id`` only that mailbox of it (a ``user``)."""

    tenant_id: str
    mailbox_id: str | None = None

    def __post_init__(self) -> None:
        if not self.tenant_id:
            raise ValueError("a tenant scope names its tenant")
        if self.mailbox_id == "":
            raise ValueError("a mailbox scope names its mailbox")


Scope = PlatformScope | TenantScope

PLATFORM = PlatformScope()
