"""Route one recipient: a local mailbox, an alias's mailboxes, an unknown user of a local
domain, or not ours.

The directory is injected (the metadata store satisfies it), so routing stays
pure and is tested with a plain in-memory directory. Precedence: an exact mailbox, then
an alias, then the domain's catch-all, then unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mairust.model.address import domain_of
from mairust.model.directory import Domain, Mailbox


class Directory(Protocol):
    def get_domain(self, name: str) -> Domain | None: ...

    def find_mailbox(self, address: str) -> Mailbox | None: ...

    def alias_targets(self, address: str) -> list[Mailbox]: ...

    def catchall_mailbox(self, domain: str) -> Mailbox | None: ...


@dataclass(frozen=True, slots=True)
class LocalMailbox:
    mailbox: Mailbox


@dataclass(frozen=True, slots=True)
class AliasTargets:
    """An alias: one copy for each of ``mailboxes`` (distinct, never empty)."""

    address: str
    mailboxes: tuple[Mailbox, ...]


@dataclass(frozen=True, slots=True)
class UnknownUser:
    address: str
    # The tenant of the address's (local) domain: whose event log records the refusal.
    tenant_id: str | None = None


@dataclass(frozen=True, slots=True)
class NotLocal:
    domain: str


Route = LocalMailbox | AliasTargets | UnknownUser | NotLocal
# The routes that deliver somewhere.
Deliverable = LocalMailbox | AliasTargets


def route_recipient(directory: Directory, address: str) -> Route:
    """Decide where ``address`` (normalised) goes."""
    domain = domain_of(address)
    local = directory.get_domain(domain)
    if local is None:
        return NotLocal(domain)
    mailbox = directory.find_mailbox(address)
    if mailbox is not None:
        return LocalMailbox(mailbox)
    targets = {target.id: target for target in directory.alias_targets(address)}
    if targets:
        return AliasTargets(address, tuple(targets.values()))
    catchall = directory.catchall_mailbox(domain)
    if catchall is not None:
        return LocalMailbox(catchall)
    return UnknownUser(address, local.tenant_id)


def mailboxes_of(route: Route) -> tuple[Mailbox, ...]:
    """The mailboxes a route delivers to (none for a refusal)."""
    match route:
        case LocalMailbox(mailbox=mailbox):
            return (mailbox,)
        case AliasTargets(mailboxes=mailboxes):
            return mailboxes
        case UnknownUser() | NotLocal():
            return ()
