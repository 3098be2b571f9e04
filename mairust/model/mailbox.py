"""A message as it sits in one mailbox: folder, tags, flags, thread and the summary a
listing shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mairust.model.threads import ThreadHeaders

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
    # Message-ID, In-Reply-To, References: what the store threads the entry by.
    thread: ThreadHeaders = field(default_factory=ThreadHeaders)


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
    # The thread the entry is in (an entry id; the same for every entry of the thread in
    # this mailbox) and the headers it was threaded by; see mairust.model.threads.
    thread_id: str = ""
    thread: ThreadHeaders = field(default_factory=ThreadHeaders)
    seen: bool = False
    flagged: bool = False


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """One thread of a mailbox in a listing: its newest entry and how many it holds."""

    thread_id: str
    latest: MailboxEntry
    count: int


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


# Where a hit stands in a search's order, as the backend that found it sorts: JSON scalars,
# opaque to everyone else. Passed back as ``after``, the backend continues behind that hit.
SearchPosition = tuple[str | int | float, ...]


@dataclass(frozen=True, slots=True)
class SearchHit:
    entry_id: str
    score: float
    snippet: str = ""
    position: SearchPosition = ()
