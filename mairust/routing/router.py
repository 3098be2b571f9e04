"""Route one recipient: a local mailbox, an alias's mailboxes, a destination beyond this
platform (a routing rule's forward or relay), an unknown user of a local domain, or not ours.

The directory is injected (the metadata store satisfies it), so routing stays
pure and is tested with a plain in-memory directory. Precedence: an exact mailbox, then
an alias, then the domain's routing rules in their order, then the domain's catch-all,
then unknown. A route that delivers carries the recipient domain's own policy.

Before all of these, a domain whose tenant is homed in another region (``homes``, the
regions config) is relayed there: accepted here, queued outbound to the home region's
relay endpoint (STARTTLS and AUTH, ``[regions]`` logins), whatever rows this region has.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Protocol

from mairust.model.address import domain_of
from mairust.model.directory import Domain, Mailbox
from mairust.model.policy import NO_POLICY, DomainPolicy, RouteAction, RoutingRule

log = logging.getLogger(__name__)


class HomeRegions(Protocol):
    """Where a tenant homed elsewhere gets its mail (mairust.regions.Regions)."""

    def relay_for(self, home: str | None) -> str | None: ...


class Directory(Protocol):
    def get_domain(self, name: str) -> Domain | None: ...

    def find_mailbox(self, address: str) -> Mailbox | None: ...

    def alias_targets(self, address: str) -> list[Mailbox]: ...

    def catchall_mailbox(self, domain: str) -> Mailbox | None: ...

    def routing_rules(self, domain: str) -> list[RoutingRule]: ...


@dataclass(frozen=True, slots=True)
class LocalMailbox:
    mailbox: Mailbox
    policy: DomainPolicy = NO_POLICY


@dataclass(frozen=True, slots=True)
class AliasTargets:
    """An alias: one copy for each of ``mailboxes`` (distinct, never empty)."""

    address: str
    mailboxes: tuple[Mailbox, ...]
    policy: DomainPolicy = NO_POLICY


@dataclass(frozen=True, slots=True)
class Outbound:
    """A routing rule sends ``address`` beyond this platform: to ``recipient`` (a forward's
    target, or the address itself for a relay), through ``relay_host`` when set (else
    the recipient domain's MX). Delivering it is the outbound queue's work."""

    address: str
    tenant_id: str
    recipient: str
    relay_host: str | None
    policy: DomainPolicy = NO_POLICY


@dataclass(frozen=True, slots=True)
class UnknownUser:
    address: str
    # The tenant of the address's (local) domain: whose event log records the refusal.
    tenant_id: str | None = None


@dataclass(frozen=True, slots=True)
class NotLocal:
    domain: str


Route = LocalMailbox | AliasTargets | Outbound | UnknownUser | NotLocal
# The routes that deliver into a mailbox here.
Deliverable = LocalMailbox | AliasTargets


def route_recipient(directory: Directory, address: str, homes: HomeRegions | None = None) -> Route:
    """Decide where ``address`` (normalised) goes; ``homes``: the regions config (None: a
    single region, every tenant homed here)."""
    domain = domain_of(address)
    local = directory.get_domain(domain)
    if local is None:
        return NotLocal(domain)
    relay = _home_relay(homes, local)
    if relay is not None:
        return Outbound(address, local.tenant_id, address, relay, local.policy)
    route: Deliverable | Outbound | None = _local_route(directory, address)
    if route is None:
        route = _rule_route(directory, address, local)
    if route is None:
        catchall = directory.catchall_mailbox(domain)
        route = LocalMailbox(catchall) if catchall is not None else None
    if route is None:
        return UnknownUser(address, local.tenant_id)
    return replace(route, policy=local.policy)


def _home_relay(homes: HomeRegions | None, domain: Domain) -> str | None:
    """The relay endpoint of the domain's home region, None when it is this region."""
    if homes is None or domain.home_region is None:
        return None
    try:
        return homes.relay_for(domain.home_region)
    except KeyError:
        # A home the config does not name (the tenant was made against another file):
        # deliver here rather than lose the mail, and say so.
        log.error(
            "tenant %s: home region %r is not configured", domain.tenant_id, domain.home_region
        )
        return None


def _local_route(directory: Directory, address: str) -> Deliverable | None:
    """The address's own mailbox or alias, if it has one."""
    mailbox = directory.find_mailbox(address)
    if mailbox is not None:
        return LocalMailbox(mailbox)
    targets = {target.id: target for target in directory.alias_targets(address)}
    if targets:
        return AliasTargets(address, tuple(targets.values()))
    return None


def _rule_route(
    directory: Directory, address: str, domain: Domain
) -> Deliverable | Outbound | None:
    """Where the domain's first rule matching the address's local part sends it."""
    local_part = address.rpartition("@")[0]
    rule = next((r for r in directory.routing_rules(domain.name) if r.matches(local_part)), None)
    if rule is None:
        return None
    match rule.action:
        case RouteAction.LOCAL:
            mailbox = directory.find_mailbox(rule.target)
            return LocalMailbox(mailbox) if mailbox is not None else None
        case RouteAction.RELAY:
            return Outbound(address, domain.tenant_id, address, rule.target)
        case RouteAction.FORWARD:
            if directory.get_domain(domain_of(rule.target)) is None:
                return Outbound(address, domain.tenant_id, rule.target, None)
            # A forward to a local address is delivered by that address's own mailbox or
            # alias, never by further rules or a catch-all, so rules cannot loop.
            return _local_route(directory, rule.target)
    return None


def mailboxes_of(route: Route) -> tuple[Mailbox, ...]:
    """The mailboxes a route delivers to (none for a refusal)."""
    match route:
        case LocalMailbox(mailbox=mailbox):
            return (mailbox,)
        case AliasTargets(mailboxes=mailboxes):
            return mailboxes
        case Outbound() | UnknownUser() | NotLocal():
            return ()
