"""Route one recipient: a local mailbox, an unknown user of a local domain, or not ours.

The directory is injected (the metadata store satisfies it), so routing stays
pure and is tested with a plain in-memory directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mairust.model.address import domain_of
from mairust.model.directory import Domain, Mailbox


class Directory(Protocol):
    def get_domain(self, name: str) -> Domain | None: ...

    def find_mailbox(self, address: str) -> Mailbox | None: ...


@dataclass(frozen=True, slots=True)
class LocalMailbox:
    mailbox: Mailbox


@dataclass(frozen=True, slots=True)
class UnknownUser:
    address: str
    # The tenant of the address's (local) domain: whose event log records the refusal.
    tenant_id: str | None = None


@dataclass(frozen=True, slots=True)
class NotLocal:
    domain: str


Route = LocalMailbox | UnknownUser | NotLocal


def route_recipient(directory: Directory, address: str) -> Route:
    """Decide where ``address`` (normalised) goes."""
    domain = domain_of(address)
    local = directory.get_domain(domain)
    if local is None:
        return NotLocal(domain)
    mailbox = directory.find_mailbox(address)
    if mailbox is None:
        return UnknownUser(address, local.tenant_id)
    return LocalMailbox(mailbox)
