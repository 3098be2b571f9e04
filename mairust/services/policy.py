"""Each local domain's own policy and routing rules: who may set them, what they may say,
and what is in force once the configuration's defaults are counted in.

Tenant admins set their own domains' policy (SPF and DMARC enforcement, the largest
message, messages per minute) and their rules to a mailbox of their tenant or a forward to
any address. Relay rules point at hosts on the network, so only the platform admin makes
them. A domain, rule or target outside the caller's tenant is a NotFound, like a missing
one. Nothing here needs a restart: the SMTP edge reads policy and rules with each
recipient's route (cached for ``smtp.recipient_cache_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from mairust.config import AuthSettings, Settings, SmtpSettings
from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.address import domain_of, normalize_address
from mairust.model.policy import (
    DomainPolicy,
    RouteAction,
    RoutingRule,
    normalize_pattern,
    normalize_relay_host,
)
from mairust.model.principal import Permission, Principal, Role
from mairust.services.access import require
from mairust.services.audit import AuditTrail
from mairust.services.directory import DirectoryService
from mairust.storage.protocols import AliasStore, DirectoryStore, PolicyStore


class PolicyStores(DirectoryStore, AliasStore, PolicyStore, Protocol):
    """Domains, their mailboxes and aliases (rule targets), policies and rules."""


@dataclass(frozen=True)
class PolicyDefaults:
    """What a domain without its own policy gets: the configuration's ``[auth]``,
    ``[auth.domains]`` and ``smtp.max_message_size``."""

    auth: AuthSettings = field(default_factory=AuthSettings)
    max_message_size: int = SmtpSettings.model_fields["max_message_size"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> PolicyDefaults:
        return cls(settings.auth, settings.smtp.max_message_size)


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A domain's own policy and what is in force (own, else configured)."""

    domain: str
    own: DomainPolicy
    effective: DomainPolicy


@dataclass(frozen=True, slots=True)
class NewRule:
    pattern: str
    action: RouteAction
    target: str
    position: int | None = None


class PolicyService:
    def __init__(
        self,
        store: PolicyStores,
        directory: DirectoryService,
        audit: AuditTrail,
        defaults: PolicyDefaults,
    ) -> None:
        self._store = store
        self._directory = directory
        self._audit = audit
        self._defaults = defaults

    # -- the domain's policy ----------------------------------------------------------
    def get_policy(self, principal: Principal, domain: str) -> PolicyView:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        return self._view(owned.name, owned.policy)

    def set_policy(self, principal: Principal, domain: str, policy: DomainPolicy) -> PolicyView:
        """Replace the domain's own policy (unset fields inherit the configuration)."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        ceiling = self._defaults.max_message_size
        if policy.max_message_bytes is not None and policy.max_message_bytes > ceiling:
            raise InvalidInput(
                f"max_message_bytes may not exceed the platform's limit of {ceiling} bytes"
            )
        self._store.set_domain_policy(principal.scope, owned.name, policy)
        self._audit.record(
            principal,
            "domain.policy.set",
            owned.name,
            owned.tenant_id,
            {
                "spf": policy.spf,
                "dmarc": policy.dmarc,
                "max_message_bytes": policy.max_message_bytes,
                "messages_per_minute": policy.messages_per_minute,
            },
        )
        return self._view(owned.name, policy)

    def _view(self, domain: str, own: DomainPolicy) -> PolicyView:
        auth = self._defaults.auth
        configured = auth.domains.get(domain)
        effective = DomainPolicy(
            spf=own.spf or (configured.spf if configured else None) or auth.spf,
            dmarc=own.dmarc or (configured.dmarc if configured else None) or auth.dmarc,
            max_message_bytes=own.max_message_bytes or self._defaults.max_message_size,
            messages_per_minute=own.messages_per_minute,
        )
        return PolicyView(domain, own, effective)

    # -- routing rules ------------------------------------------------------------------
    def list_rules(self, principal: Principal, domain: str) -> list[RoutingRule]:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        return self._store.list_routing_rules(principal.scope, owned.name)

    def add_rule(self, principal: Principal, domain: str, rule: NewRule) -> RoutingRule:
        """Addresses of ``domain`` matching ``rule.pattern`` (and no mailbox or alias) go
        to ``rule.target``; Conflict if the domain has a rule for that pattern."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        pattern = normalize_pattern(rule.pattern)
        match rule.action:
            case RouteAction.LOCAL:
                target = self._local_target(owned.tenant_id, rule.target, mailbox_only=True)
            case RouteAction.FORWARD:
                target = self._forward_target(owned.tenant_id, rule.target)
            case RouteAction.RELAY:
                if principal.role is not Role.ADMIN:
                    raise Forbidden(
                        "relay rules are the platform operator's: they point at hosts "
                        "on the network"
                    )
                target = normalize_relay_host(rule.target)
        created = self._store.add_routing_rule(
            owned.name, owned.tenant_id, pattern, rule.action, target, rule.position
        )
        self._audit.record(
            principal,
            "domain.route.create",
            f"{created.pattern}@{created.domain}",
            created.tenant_id,
            {"id": created.id, "action": created.action.value, "target": created.target},
        )
        return created

    def delete_rule(self, principal: Principal, domain: str, rule_id: str) -> None:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        removed = self._store.delete_routing_rule(principal.scope, owned.name, rule_id)
        self._audit.record(
            principal,
            "domain.route.delete",
            f"{removed.pattern}@{removed.domain}",
            removed.tenant_id,
            {"id": removed.id},
        )

    def _forward_target(self, tenant_id: str, address: str) -> str:
        """A remote address as it is; a local one must be the tenant's mailbox or alias."""
        target = normalize_address(address)
        if self._store.get_domain(domain_of(target)) is None:
            return target
        return self._local_target(tenant_id, target, mailbox_only=False)

    def _local_target(self, tenant_id: str, address: str, *, mailbox_only: bool) -> str:
        target = normalize_address(address)
        mailbox = self._store.find_mailbox(target)
        if mailbox is not None and mailbox.tenant_id == tenant_id:
            return target
        if not mailbox_only and mailbox is None:
            domain = self._store.get_domain(domain_of(target))
            owned = domain is not None and domain.tenant_id == tenant_id
            if owned and self._store.alias_targets(target):
                return target
        raise NotFound(f"no mailbox {address!r} in this tenant")
