"""Tenants, their local domains and their mailbox users: who may create and see what.

The platform admin creates tenants and domains (a domain decides where mail for it goes,
so a tenant cannot claim one). A tenant admin creates users in the domains of their own
tenant; anyone reads what their scope holds. A domain or address outside the caller's
tenant is a NotFound, exactly like a missing one.

Aliases and catch-alls are the tenant admin's, in their own tenant's domains: an alias
delivers to mailboxes of the same tenant, a catch-all to one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mairust.errors import Conflict, Forbidden, InvalidInput, NotFound
from mairust.model.address import domain_of, normalize_address, normalize_domain
from mairust.model.directory import Alias, CatchAll, Domain, Mailbox, Tenant
from mairust.model.principal import Permission, Principal, Role, outranks_or_equals
from mairust.model.scope import PlatformScope, TenantScope
from mairust.passwords import hash_password
from mairust.regions import Regions
from mairust.services.access import require
from mairust.services.audit import AuditTrail
from mairust.storage.protocols import AliasStore, DirectoryStore


@dataclass(frozen=True, slots=True)
class NewUser:
    address: str
    password: str | None = None
    role: Role = Role.USER


class DirectoryStores(DirectoryStore, AliasStore, Protocol):
    """The directory and its domains' aliases and catch-alls (one metadata store)."""


class DirectoryService:
    def __init__(
        self, directory: DirectoryStores, audit: AuditTrail, regions: Regions | None = None
    ) -> None:
        """``regions``: the regions config (None: one region, no tenant homed elsewhere)."""
        self._directory = directory
        self._audit = audit
        self._regions = regions

    # -- tenants ---------------------------------------------------------------------
    def create_tenant(
        self, principal: Principal, name: str, home_region: str | None = None
    ) -> Tenant:
        """A new tenant homed in ``home_region`` (None: this region); InvalidInput for a
        region the regions config does not name."""
        require(principal, Permission.ADMIN, Role.ADMIN)
        self._check_home(home_region)
        tenant = self._directory.create_tenant(name, home_region)
        self._audit.record(principal, "tenant.create", tenant.name, tenant.id)
        return tenant

    def set_tenant_home(self, principal: Principal, tenant: str, home_region: str | None) -> Tenant:
        """Name the region holding ``tenant``'s mail (its id or name; None: this region).

        This changes where this region routes the tenant's mail and API calls; it moves
        no mail. So a tenant with mailboxes here cannot be given another home (Conflict):
        its mail would stay behind, unreachable. InvalidInput for an unknown region."""
        require(principal, Permission.ADMIN, Role.ADMIN)
        self._check_home(home_region)
        found = self._directory.get_tenant(tenant) or self._directory.get_tenant_by_name(tenant)
        if found is None:
            raise NotFound(f"no tenant {tenant!r}")
        regions = self._regions
        if regions is not None and regions.is_remote(home_region):
            held = self._directory.list_mailboxes(TenantScope(found.id))
            if held:
                raise Conflict(
                    f"tenant {found.name!r} has {len(held)} mailbox(es) in this region; "
                    "moving a tenant's mail to another region is not supported"
                )
        updated = self._directory.set_tenant_home(found.id, home_region)
        self._audit.record(
            principal, "tenant.home", updated.name, updated.id, {"home_region": home_region}
        )
        return updated

    def _check_home(self, home_region: str | None) -> None:
        """InvalidInput unless ``home_region`` is None or a region of the config."""
        if home_region is None:
            return
        if self._regions is None:
            raise InvalidInput("home_region needs a regions config ([regions] file)")
        try:
            self._regions.check_home(home_region)
        except ValueError as error:
            raise InvalidInput(str(error)) from error

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
        try:
            # Through the scope, so a user sees only their own and a tenant only theirs.
            return self._directory.find_mailbox_in(principal.scope, normalize_address(address))
        except NotFound:
            # One answer for missing and foreign: it must not tell them apart (invariant 5).
            raise NotFound(f"no mailbox {address!r}") from None

    # -- aliases and catch-alls --------------------------------------------------------
    def own_domain(self, principal: Principal, name: str) -> Domain:
        """The domain ``name`` if the caller's tenant owns it (any, for the platform);
        NotFound otherwise, the same for missing and foreign."""
        try:
            domain = self._directory.get_domain(normalize_domain(name))
        except InvalidInput:
            domain = None
        if domain is None or (
            principal.tenant_id is not None and domain.tenant_id != principal.tenant_id
        ):
            raise NotFound(f"not a local domain: {name}")
        return domain

    def list_aliases(self, principal: Principal, domain: str) -> list[Alias]:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self.own_domain(principal, domain)
        return self._directory.list_aliases(principal.scope, owned.name)

    def create_alias(
        self, principal: Principal, domain: str, address: str, targets: Sequence[str]
    ) -> Alias:
        """``address`` (in ``domain``) delivers to the mailboxes ``targets`` of the domain's
        tenant (each once). NotFound for a domain or target outside the caller's tenant,
        Conflict if the address is an alias or a mailbox already."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self.own_domain(principal, domain)
        normalized = normalize_address(address)
        if domain_of(normalized) != owned.name:
            raise InvalidInput(f"{normalized} is not an address of {owned.name}")
        target_ids = [self._mailbox_of_tenant(owned.tenant_id, target).id for target in targets]
        alias = self._directory.add_alias(normalized, owned.tenant_id, target_ids)
        self._audit.record(
            principal, "alias.create", alias.address, alias.tenant_id, {"targets": alias.targets}
        )
        return alias

    def delete_alias(self, principal: Principal, domain: str, address: str) -> None:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self.own_domain(principal, domain)
        normalized = normalize_address(address)
        if domain_of(normalized) != owned.name:
            raise NotFound(f"no alias {normalized!r}")
        self._directory.delete_alias(principal.scope, normalized)
        self._audit.record(principal, "alias.delete", normalized, owned.tenant_id)

    def get_catchall(self, principal: Principal, domain: str) -> CatchAll:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self.own_domain(principal, domain)
        catchall = self._directory.get_catchall(principal.scope, owned.name)
        if catchall is None:
            raise NotFound(f"{owned.name} has no catch-all")
        return catchall

    def set_catchall(self, principal: Principal, domain: str, mailbox: str) -> CatchAll:
        """Mail for the addresses of ``domain`` that are neither a mailbox nor an alias
        goes to ``mailbox`` (of the domain's tenant) from now on."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self.own_domain(principal, domain)
        target = self._mailbox_of_tenant(owned.tenant_id, mailbox)
        catchall = self._directory.set_catchall(owned.name, owned.tenant_id, target.id)
        self._audit.record(
            principal, "catchall.set", owned.name, owned.tenant_id, {"mailbox": target.address}
        )
        return catchall

    def clear_catchall(self, principal: Principal, domain: str) -> None:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self.own_domain(principal, domain)
        self._directory.clear_catchall(principal.scope, owned.name)
        self._audit.record(principal, "catchall.clear", owned.name, owned.tenant_id)

    def _mailbox_of_tenant(self, tenant_id: str, address: str) -> Mailbox:
        try:
            found = self._directory.find_mailbox(normalize_address(address))
        except InvalidInput:
            found = None
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"no mailbox {address!r} in this tenant")
        return found
