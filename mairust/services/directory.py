"""Tenants, their local domains and their mailbox users: who may create and see what.

The platform admin creates tenants and domains (a domain decides where mail for it goes,
so a tenant cannot claim one). A tenant admin creates users in the domains of their own
tenant; anyone reads what their scope holds. A domain or address outside the caller's
tenant is a NotFound, exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from mairust.errors import Conflict, Forbidden, InvalidInput, NotFound
from mairust.model.address import domain_of, normalize_address, normalize_domain
from mairust.model.directory import Domain, Mailbox, Tenant
from mairust.model.principal import Permission, Principal, Role, outranks_or_equals
from mairust.model.scope import PlatformScope
from mairust.passwords import hash_password
from mairust.services.access import require
from mairust.services.audit import AuditTrail
from mairust.storage.protocols import DirectoryStore


@dataclass(frozen=True, slots=True)
class NewUser:
    address: str
    password: str | None = None
    role: Role = Role.USER


class DirectoryService:
    def __init__(self, directory: DirectoryStore, audit: AuditTrail) -> None:
        self._directory = directory
        self._audit = audit

    # -- tenants ---------------------------------------------------------------------
    def create_tenant(self, principal: Principal, name: str) -> Tenant:
        require(principal, Permission.ADMIN, Role.ADMIN)
        tenant = self._directory.create_tenant(name)
        self._audit.record(principal, "tenant.create", tenant.name, tenant.id)
        return tenant

    def list_tenants(self, principal: Principal) -> list[Tenant]:
        require(principal, Permission.READ)
        tenants = self._directory.list_tenants()
        if isinstance(principal.scope, PlatformScope):
            return tenants
        return [t for t in tenants if t.id == principal.tenant_id]

    def tenant_names(self) -> dict[str, str]:
        """Tenant id -> name, for showing domains (names are not secret between tables)."""
        return {tenant.id: tenant.name for tenant in self._directory.list_tenants()}

    # -- domains ---------------------------------------------------------------------
    def create_domain(
        self, principal: Principal, name: str, tenant_name: str | None = None
    ) -> tuple[Domain, Tenant]:
        """Make ``name`` local, owned by the tenant ``tenant_name`` (default: named like the
        domain), created if missing. Conflict if the domain exists (nothing changes)."""
        require(principal, Permission.ADMIN, Role.ADMIN)
        domain_name = normalize_domain(name)
        # Refuse before creating a tenant, so a duplicate changes nothing (invariant 7).
        if self._directory.get_domain(domain_name) is not None:
            raise Conflict(f"domain {domain_name!r} exists already")
        tenant = self._tenant_named(tenant_name or domain_name)
        domain = self._directory.add_domain(domain_name, tenant.id)
        self._audit.record(principal, "domain.create", domain.name, tenant.id)
        return domain, tenant

    def ensure_domain(
        self, principal: Principal, name: str, tenant_name: str | None = None
    ) -> bool:
        """``create_domain`` unless the domain exists; True when something was created."""
        try:
            self.create_domain(principal, name, tenant_name)
        except Conflict:
            return False
        return True

    def list_domains(self, principal: Principal) -> list[Domain]:
        require(principal, Permission.READ)
        return self._directory.list_domains(principal.scope)

    def _tenant_named(self, name: str) -> Tenant:
        existing = self._directory.get_tenant_by_name(name)
        if existing is not None:
            return existing
        try:
            return self._directory.create_tenant(name)
        except Conflict:
            # Another request created it between our lookup and insert: use theirs.
            raced = self._directory.get_tenant_by_name(name)
            if raced is None:
                raise
            return raced

    # -- users -----------------------------------------------------------------------
    def create_user(self, principal: Principal, new: NewUser) -> Mailbox:
        """A mailbox in the tenant owning the address's domain; a tenant admin only in
        their own tenant's domains (another tenant's domain is a NotFound)."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        if new.role is Role.ADMIN:
            raise InvalidInput("a mailbox is a user or a tenant_admin, never the platform admin")
        if not outranks_or_equals(principal.role, new.role):
            raise Forbidden(f"a {principal.role.value} cannot create a {new.role.value}")
        address = normalize_address(new.address)
        domain = self._directory.get_domain(domain_of(address))
        if domain is None or (
            principal.tenant_id is not None and domain.tenant_id != principal.tenant_id
        ):
            raise NotFound(f"not a local domain: {domain_of(address)}")
        password_hash = hash_password(new.password) if new.password is not None else None
        mailbox = self._directory.add_mailbox(address, password_hash, new.role)
        self._audit.record(
            principal, "user.create", mailbox.address, mailbox.tenant_id, {"role": new.role}
        )
        return mailbox

    def list_users(self, principal: Principal) -> list[Mailbox]:
        require(principal, Permission.READ)
        return self._directory.list_mailboxes(principal.scope)

    def find_user(self, principal: Principal, address: str) -> Mailbox:
        """The mailbox ``address`` inside the caller's scope; NotFound otherwise."""
        require(principal, Permission.READ)
        found = self._directory.find_mailbox(normalize_address(address))
        try:
            if found is None:
                raise NotFound(address)
            # Through the scope, so a user sees only their own and a tenant only theirs.
            return self._directory.get_mailbox(principal.scope, found.id)
        except NotFound:
            # One answer for missing and foreign: it must not tell them apart (invariant 5).
            raise NotFound(f"no mailbox {address!r}") from None
