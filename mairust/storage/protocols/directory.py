"""Tenants, domains, mailboxes and what hangs off them: quotas, aliases, catch-alls,
each domain's own policy and its routing rules.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mairust.model.directory import Alias, CatchAll, Domain, Mailbox, Tenant
from mairust.model.policy import DomainPolicy, RouteAction, RoutingRule
from mairust.model.principal import Role
from mairust.model.scope import Scope


class DirectoryStore(Protocol):
    """Tenants, their local domains and the mailboxes in them."""

    def create_tenant(self, name: str, home_region: str | None = None) -> Tenant:
        """Create a tenant homed in ``home_region`` (None: this region); Conflict if the
        name exists."""
        ...

    def set_tenant_home(self, tenant_id: str, home_region: str | None) -> Tenant:
        """Set the tenant's home region (None: this region); NotFound if there is none."""
        ...

    def get_tenant_by_name(self, name: str) -> Tenant | None: ...

    def list_tenants(self) -> list[Tenant]: ...

    def add_domain(self, name: str, tenant_id: str) -> Domain:
        """Add a local domain owned by ``tenant_id``; Conflict if it exists."""
        ...

    def get_domain(self, name: str) -> Domain | None: ...

    def list_domains(self, scope: Scope) -> list[Domain]: ...

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def add_mailbox(
        self, address: str, password_hash: str | None = None, role: Role = Role.USER
    ) -> Mailbox:
        """Create a mailbox in the tenant that owns the address's domain.

        NotFound if the domain is not local; Conflict if the address exists.
        """
        ...

    def get_mailbox(self, scope: Scope, mailbox_id: str) -> Mailbox:
        """NotFound if absent or outside the scope."""
        ...

    def find_mailbox(self, address: str) -> Mailbox | None:
        """The mailbox with this normalised address, in any tenant (routing needs it)."""
        ...

    def find_mailbox_in(self, scope: Scope, address: str) -> Mailbox:
        """The mailbox with this normalised address inside ``scope``, in one query;
        NotFound if absent or outside the scope (the same answer for both)."""
        ...

    def list_mailboxes(self, scope: Scope) -> list[Mailbox]: ...


class QuotaStore(Protocol):
    """Mailbox quotas. Usage (``Mailbox.used_bytes``) is a counter the entry store keeps
    in the transactions that store and purge entries; this role sets the limits."""

    def set_mailbox_quota(self, scope: Scope, mailbox_id: str, quota_bytes: int | None) -> Mailbox:
        """Set the mailbox's own quota in bytes (None: the configured default; 0:
        unlimited) and return the mailbox; NotFound if absent or outside ``scope``,
        InvalidInput for a negative quota."""
        ...


class AliasStore(Protocol):
    """Aliases and catch-alls of local domains. Reads and deletes go through a
    scope (a user's scope holds none); the two routing lookups span every tenant."""

    def add_alias(self, address: str, tenant_id: str, target_ids: Sequence[str]) -> Alias:
        """NotFound unless the domain and every target mailbox are ``tenant_id``'s;
        Conflict if the address is an alias or a mailbox already."""
        ...

    def list_aliases(self, scope: Scope, domain: str) -> list[Alias]: ...

    def delete_alias(self, scope: Scope, address: str) -> None:
        """NotFound if absent or outside the scope."""
        ...

    def alias_targets(self, address: str) -> list[Mailbox]:
        """The mailboxes an alias delivers to (each once); empty if not an alias."""
        ...

    def set_catchall(self, domain: str, tenant_id: str, mailbox_id: str) -> CatchAll:
        """Replace the domain's catch-all; NotFound unless both are ``tenant_id``'s."""
        ...

    def get_catchall(self, scope: Scope, domain: str) -> CatchAll | None: ...

    def clear_catchall(self, scope: Scope, domain: str) -> None:
        """NotFound if there is none inside the scope."""
        ...

    def catchall_mailbox(self, domain: str) -> Mailbox | None: ...


class PolicyStore(Protocol):
    """Each domain's own policy (read back with the domain, ``Domain.policy``) and its
    routing rules. Management goes through a scope; ``routing_rules`` spans every tenant."""

    def set_domain_policy(self, scope: Scope, domain: str, policy: DomainPolicy) -> None:
        """Replace the domain's policy; NotFound if absent or outside ``scope``."""
        ...

    def routing_rules(self, domain: str) -> list[RoutingRule]:
        """The domain's rules in the order they are tried (routing needs it)."""
        ...

    def list_routing_rules(self, scope: Scope, domain: str) -> list[RoutingRule]: ...

    def add_routing_rule(
        self,
        domain: str,
        tenant_id: str,
        pattern: str,
        action: RouteAction,
        target: str,
        position: int | None = None,
    ) -> RoutingRule:
        """NotFound unless the domain is ``tenant_id``'s; Conflict if the domain has a
        rule for ``pattern``. No ``position``: after the domain's last rule."""
        ...

    def delete_routing_rule(self, scope: Scope, domain: str, rule_id: str) -> RoutingRule:
        """The rule removed; NotFound if absent or outside ``scope``."""
        ...
