"""Request and response bodies of tenants, tokens, log-in and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mairust.model.access import ApiToken, AuditRecord
from mairust.model.directory import Tenant
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    home_region: str | None = Field(
        default=None, description="The region holding the tenant's mail; null: this one."
    )

    @classmethod
    def from_tenant(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            name=tenant.name,
            created_at=tenant.created_at,
            home_region=tenant.home_region,
        )


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    home_region: str | None = Field(
        default=None,
        max_length=63,
        description="A region of the regions config whose stores hold the tenant's mail "
        "(unset: this region).",
    )


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home_region: str | None = Field(
        max_length=63,
        description="A region of the regions config whose stores hold the tenant's mail "
        "(null: this region).",
    )


class TenantList(BaseModel):
    items: list[TenantOut]


class TokenCreate(BaseModel):
    """A new token; unset fields default to the caller's own standing."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    permissions: list[Permission] = Field(min_length=1, max_length=4)
    role: Role | None = Field(default=None, description="At most the caller's own role.")
    tenant_id: str | None = Field(
        default=None, max_length=64, description="Platform admins only: the token's tenant."
    )
    mailbox_id: str | None = Field(
        default=None, max_length=64, description="For a `user` token: whose mailbox."
    )
    expires_at: datetime | None = Field(default=None, description="Never expires if omitted.")


class TokenOut(BaseModel):
    """A token as listed: never its secret."""

    id: str
    name: str
    role: Role
    tenant_id: str | None
    mailbox_id: str | None
    permissions: list[Permission]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_token(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            role=token.role,
            tenant_id=token.tenant_id,
            mailbox_id=token.mailbox_id,
            permissions=sorted(token.permissions),
            created_by=token.created_by,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token. Shown this once; store it now.")


class TokenList(BaseModel):
    items: list[TokenOut]
    next: str | None = Field(description="Cursor of the next page (`after`); null at the end.")


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=320, examples=["jane@example.com"])
    password: SecretStr = Field(min_length=1, max_length=1024)


class WhoAmI(BaseModel):
    """What the bearer token is: its role and permissions, and where it is confined."""

    role: Role = Field(description="`admin` (the platform), `tenant_admin` or `user`.")
    permissions: list[Permission]
    tenant_id: str | None = Field(description="The token's tenant; null for the platform admin.")
    mailbox_id: str | None = Field(description="A `user` token's mailbox; null otherwise.")
    actor: str = Field(description="How the audit log names this token (`token:<id>`, …).")

    @classmethod
    def of(cls, principal: Principal) -> WhoAmI:
        scope = principal.scope
        return cls(
            role=principal.role,
            permissions=sorted(principal.permissions),
            tenant_id=principal.tenant_id,
            mailbox_id=scope.mailbox_id if isinstance(scope, TenantScope) else None,
            actor=principal.actor,
        )


class AuditOut(BaseModel):
    id: str
    at: datetime
    tenant_id: str | None
    actor: str
    role: Role
    action: str
    target: str
    source: str
    details: dict[str, Any] | None

    @classmethod
    def from_record(cls, record: AuditRecord) -> AuditOut:
        return cls(
            id=record.id,
            at=record.at,
            tenant_id=record.tenant_id,
            actor=record.actor,
            role=record.role,
            action=record.action,
            target=record.target,
            source=record.source,
            details=record.details,
        )


class AuditPage(BaseModel):
    items: list[AuditOut]
    next: str | None = Field(description="Cursor of the next page (`before`); null at the end.")
