"""Tenants, their domains and their mailboxes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mairust.model.principal import Role


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    tenant_id: str
    created_at: datetime


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
