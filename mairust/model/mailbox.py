"""A message as it sits in one mailbox: folder, tags and the summary a listing shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_FOLDER = "INBOX"


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What the store stage writes; idempotent per (mailbox_id, message_id)."""

    tenant_id: str
    mailbox_id: str
    message_id: str
    subject: str
    from_addr: str
    to_addrs: tuple[str, ...]
    date: datetime | None
    size: int
    folder: str = DEFAULT_FOLDER
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MailboxEntry:
    id: str
    tenant_id: str
    mailbox_id: str
    mailbox_address: str
    message_id: str
    folder: str
    tags: tuple[str, ...]
    subject: str
    from_addr: str
    to_addrs: tuple[str, ...]
    date: datetime | None
    size: int
    received_at: datetime
    blob_key: str
    # mairust.auth.results.AuthResults.to_json() of the message, when it was checked.
    auth_results: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """What the index stage hands the search role for one mailbox entry."""

    entry_id: str
    tenant_id: str
    mailbox_id: str
    subject: str
    from_addr: str
    to_addrs: tuple[str, ...]
    body: str
    received_at: datetime
    # Authentication outcome words for search filters: {"spf": "pass", "dkim": ..., "dmarc": ...}
    auth: dict[str, str] = field(default_factory=dict)
    # The entry's labels, for the tag: and folder: filters; re-indexed when they change.
    tags: tuple[str, ...] = ()
    folder: str = DEFAULT_FOLDER


@dataclass(frozen=True, slots=True)
class SearchHit:
    entry_id: str
    score: float
    snippet: str = ""
