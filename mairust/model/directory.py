"""Tenants, their domains and their mailboxes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mairust.model.policy import NO_POLICY, DomainPolicy
from mairust.model.principal import Role


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: datetime
    # The region whose stores hold its mail (mairust.regions); None: this region.
    home_region: str | None = None


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    tenant_id: str
    created_at: datetime
    # What the tenant or operator set for mail to this domain (unset: the configuration).
    policy: DomainPolicy = NO_POLICY
    # The tenant's home region (Tenant.home_region), as read with the domain.
    home_region: str | None = None


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: str
    tenant_id: str
    address: str
    created_at: datetime
    # scrypt hash ("scrypt$n$r$p$salt$hash"); None means no SMTP AUTH for this mailbox.
    password_hash: str | None = None
    # USER or TENANT_ADMIN; the platform admin is never a mailbox.
    role: Role = Role.USER
    # The mailbox's own quota in bytes: None means the configured default, 0 unlimited.
    quota_bytes: int | None = None
    # What its entries take, in bytes, as of when this value was read.
    used_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Alias:
    """An address of a local domain whose mail goes to one or more mailboxes of the
    domain's tenant (``targets``: their addresses, each once, sorted)."""

    address: str
    domain: str
    tenant_id: str
    targets: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CatchAll:
    """The mailbox that takes mail for the addresses of ``domain`` nobody else takes."""

    domain: str
    tenant_id: str
    mailbox_address: str
    updated_at: datetime
