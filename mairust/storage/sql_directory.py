"""Tenants, domains and mailboxes in the SQL metadata store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, assert_never

import sqlalchemy as sa

from mairust.errors import Conflict, InvalidInput, NotFound
from mairust.model.address import domain_of, normalize_address, normalize_domain
from mairust.model.directory import Domain, Mailbox, Tenant
from mairust.model.ids import new_id
from mairust.model.policy import DomainPolicy
from mairust.model.principal import Role
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import domains, mailboxes, tenants


class SqlDirectory:
    """The directory part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def create_tenant(self, name: str, home_region: str | None = None) -> Tenant:
        if not name.strip():
            raise InvalidInput("a tenant needs a name")
        tenant = Tenant(new_id(), name.strip(), datetime.now(UTC), home_region)
        try:
            with self._db.write() as conn:
                conn.execute(
                    tenants.insert().values(
                        id=tenant.id,
                        name=tenant.name,
                        created_at=tenant.created_at,
                        home_region=home_region,
                    )
                )
        except Conflict as error:
            raise Conflict(f"tenant exists: {tenant.name}") from error
        return tenant

    def set_tenant_home(self, tenant_id: str, home_region: str | None) -> Tenant:
        with self._db.write() as conn:
            done = conn.execute(
                tenants.update()
                .where(tenants.c.id == tenant_id)
                .values(home_region=home_region)
                .returning(tenants)
            ).first()
        if done is None:
            raise NotFound(f"no such tenant: {tenant_id}")
        return Tenant(done.id, done.name, done.created_at, done.home_region)

    def get_tenant_by_name(self, name: str) -> Tenant | None:
        with self._db.read() as conn:
            row = conn.execute(tenants.select().where(tenants.c.name == name.strip())).first()
        return None if row is None else Tenant(row.id, row.name, row.created_at, row.home_region)

    def list_tenants(self) -> list[Tenant]:
        with self._db.read() as conn:
            rows = conn.execute(tenants.select().order_by(tenants.c.name)).all()
        return [Tenant(row.id, row.name, row.created_at, row.home_region) for row in rows]

    def add_domain(self, name: str, tenant_id: str) -> Domain:
        domain = Domain(normalize_domain(name), tenant_id, datetime.now(UTC))
        with self._db.write() as conn:
            tenant = conn.execute(sa.select(tenants.c.id).where(tenants.c.id == tenant_id))
            if tenant.first() is None:
                raise NotFound(f"no such tenant: {tenant_id}")
            taken = conn.execute(sa.select(domains.c.name).where(domains.c.name == domain.name))
            if taken.first() is not None:
                raise Conflict(f"domain exists: {domain.name}")
            conn.execute(
                domains.insert().values(
                    name=domain.name, tenant_id=tenant_id, created_at=domain.created_at
                )
            )
        return domain

    def get_domain(self, name: str) -> Domain | None:
        with self._db.read() as conn:
            # The tenant's home region with the domain: routing reads both at once.
            row = conn.execute(
                sa.select(domains, tenants.c.home_region)
                .join(tenants, tenants.c.id == domains.c.tenant_id)
                .where(domains.c.name == normalize_domain(name))
            ).first()
        return None if row is None else domain_from_row(row)

    def list_domains(self, scope: Scope) -> list[Domain]:
        query = domains.select().order_by(domains.c.name)
        if isinstance(scope, TenantScope):
            query = query.where(domains.c.tenant_id == scope.tenant_id)
        else:
            assert isinstance(scope, PlatformScope)  # a third kind must not see everything
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [domain_from_row(row) for row in rows]

    def add_mailbox(
        self, address: str, password_hash: str | None = None, role: Role = Role.USER
    ) -> Mailbox:
        normalized = normalize_address(address)
        domain_name = domain_of(normalized)
        with self._db.write() as conn:
            tenant_id = conn.execute(
                sa.select(domains.c.tenant_id).where(domains.c.name == domain_name)
            ).scalar()
            if tenant_id is None:
                raise NotFound(f"not a local domain: {domain_name}")
            taken = conn.execute(
                sa.select(mailboxes.c.id).where(mailboxes.c.address == normalized)
            ).first()
            if taken is not None:
                raise Conflict(f"mailbox exists: {normalized}")
            mailbox = Mailbox(
                id=new_id(),
                tenant_id=tenant_id,
                address=normalized,
                created_at=datetime.now(UTC),
                password_hash=password_hash,
                role=role,
            )
            conn.execute(
                mailboxes.insert().values(
                    id=mailbox.id,
                    tenant_id=mailbox.tenant_id,
                    address=mailbox.address,
                    password_hash=mailbox.password_hash,
                    created_at=mailbox.created_at,
                    role=mailbox.role.value,
                )
            )
        return mailbox

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self._db.read() as conn:
            row = conn.execute(tenants.select().where(tenants.c.id == tenant_id)).first()
        return None if row is None else Tenant(row.id, row.name, row.created_at, row.home_region)

    def get_mailbox(self, scope: Scope, mailbox_id: str) -> Mailbox:
        return self._mailbox_in(scope, mailboxes.c.id == mailbox_id, mailbox_id)

    def find_mailbox(self, address: str) -> Mailbox | None:
        with self._db.read() as conn:
            row = conn.execute(
                mailboxes.select().where(mailboxes.c.address == normalize_address(address))
            ).first()
        return None if row is None else mailbox_from_row(row)

    def find_mailbox_in(self, scope: Scope, address: str) -> Mailbox:
        normalized = normalize_address(address)
        return self._mailbox_in(scope, mailboxes.c.address == normalized, normalized)

    def _mailbox_in(self, scope: Scope, which: sa.ColumnElement[bool], named: str) -> Mailbox:
        """The one mailbox ``which`` selects inside ``scope``; NotFound (naming ``named``)
        if absent or outside it."""
        query = mailboxes.select().where(which, *_mailbox_scope(scope))
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no mailbox {named!r}")
        return mailbox_from_row(row)

    def list_mailboxes(self, scope: Scope) -> list[Mailbox]:
        query = mailboxes.select().where(*_mailbox_scope(scope)).order_by(mailboxes.c.address)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [mailbox_from_row(row) for row in rows]


def _mailbox_scope(scope: Scope) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions that confine mailboxes to ``scope`` (none for the platform)."""
    match scope:
        case TenantScope(tenant_id=tenant_id, mailbox_id=None):
            return [mailboxes.c.tenant_id == tenant_id]
        case TenantScope(tenant_id=tenant_id, mailbox_id=mailbox_id):
            return [mailboxes.c.tenant_id == tenant_id, mailboxes.c.id == mailbox_id]
        case PlatformScope():
            return []
        case _:
            assert_never(scope)


def mailbox_from_row(row: sa.Row[Any]) -> Mailbox:
    """A ``mailboxes`` row as a :class:`Mailbox` (quota and usage included)."""
    return Mailbox(
        id=row.id,
        tenant_id=row.tenant_id,
        address=row.address,
        created_at=row.created_at,
        password_hash=row.password_hash,
        role=Role(row.role),
        quota_bytes=row.quota_bytes,
        used_bytes=row.used_bytes,
    )


def domain_from_row(row: sa.Row[Any]) -> Domain:
    """A ``domains`` row as a Domain, its own policy included."""
    return Domain(
        row.name,
        row.tenant_id,
        row.created_at,
        DomainPolicy(
            spf=row.spf_mode,
            dmarc=row.dmarc_mode,
            max_message_bytes=row.max_message_bytes,
            messages_per_minute=row.messages_per_minute,
        ),
        getattr(row, "home_region", None),
    )
