"""Mailbox quotas: which limit applies to a mailbox and when it counts as full.

A mailbox's own ``quota_bytes`` wins; None falls back to the configured
``mailbox.default_quota_bytes``; 0 (either way) is unlimited. A mailbox is full once what
its entries take reaches the limit: the check is made at RCPT, before the 250, so a
message accepted while there was room is delivered even when it crosses the limit
(250 is a promise; DESIGN invariant 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from mairust.model.directory import Mailbox

UNLIMITED = 0


def quota_limit(mailbox: Mailbox, default_bytes: int) -> int:
    """The limit that applies to ``mailbox`` in bytes (0: unlimited)."""
    return default_bytes if mailbox.quota_bytes is None else mailbox.quota_bytes


def is_full(mailbox: Mailbox, default_bytes: int) -> bool:
    """True when ``mailbox`` has a limit and its usage has reached it."""
    limit = quota_limit(mailbox, default_bytes)
    return limit != UNLIMITED and mailbox.used_bytes >= limit


@dataclass(frozen=True, slots=True)
class MailboxUsage:
    """A mailbox's quota as a client sees it."""

    mailbox_id: str
    address: str
    # The mailbox's own setting (None: the default applies).
    quota_bytes: int | None
    # The limit in force (0: unlimited).
    limit_bytes: int
    used_bytes: int
    full: bool

    @classmethod
    def of(cls, mailbox: Mailbox, default_bytes: int) -> MailboxUsage:
        return cls(
            mailbox_id=mailbox.id,
            address=mailbox.address,
            quota_bytes=mailbox.quota_bytes,
            limit_bytes=quota_limit(mailbox, default_bytes),
            used_bytes=mailbox.used_bytes,
            full=is_full(mailbox, default_bytes),
        )
