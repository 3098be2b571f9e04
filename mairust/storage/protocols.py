"""The storage roles as protocols; every backend implements one of them.

Three backends: message bodies (:class:`BlobStore`), full-text search
(:class:`SearchIndex`) and the transactional metadata (:class:`MetadataStore`). The
metadata store is itself four roles, so that each consumer names only the part it uses:
:class:`DirectoryStore` (tenants, domains, mailboxes), :class:`QueueStore` (the spool's
commit, the leased queue and its loop heartbeats), :class:`EntryStore` (mailbox entries)
and :class:`SearchBacklog` (entries waiting to be indexed). One SQL class implements them
all; :class:`MetadataStore` combines them for whoever opens and closes it.

All methods are synchronous and thread-safe: async callers run them with
``asyncio.to_thread``. Failures to reach the backend raise
:class:`mairust.errors.StorageUnavailable`; a missing row in the caller's scope
raises :class:`mairust.errors.NotFound` (or returns ``None`` where documented).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from mairust.model.directory import Domain, Mailbox, Tenant
from mairust.model.mailbox import (
    MailboxEntry,
    NewEntry,
    SearchDocument,
    SearchHit,
    ThreadSummary,
)
from mairust.model.message import BlobInfo, SpoolRecord
from mairust.model.queue import QueueItem, QueueState
from mairust.model.scope import Scope


class BlobStore(Protocol):
    """Message bodies, content-addressed: the key is derived from the sha256."""

    def put(self, data: bytes) -> BlobInfo:
        """Store ``data`` durably (fsync of file and directory, or S3 PUT answered)."""
        ...

    def get(self, key: str) -> bytes:
        """The exact bytes stored under ``key``; NotFound if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; absent keys are ignored."""
        ...

    def close(self) -> None: ...


class DirectoryStore(Protocol):
    """Tenants, their local domains and the mailboxes in them."""

    def create_tenant(self, name: str) -> Tenant:
        """Create a tenant; Conflict if the name exists."""
        ...

    def get_tenant_by_name(self, name: str) -> Tenant | None: ...

    def list_tenants(self) -> list[Tenant]: ...

    def add_domain(self, name: str, tenant_id: str) -> Domain:
        """Add a local domain owned by ``tenant_id``; Conflict if it exists."""
        ...

    def get_domain(self, name: str) -> Domain | None: ...

    def list_domains(self, scope: Scope) -> list[Domain]: ...

    def add_mailbox(self, address: str, password_hash: str | None = None) -> Mailbox:
        """Create a mailbox in the tenant that owns the address's domain.

        NotFound if the domain is not local; Conflict if the address exists.
        """
        ...

    def find_mailbox(self, address: str) -> Mailbox | None:
        """The mailbox with this normalised address, in any tenant (routing needs it)."""
        ...

    def list_mailboxes(self, scope: Scope) -> list[Mailbox]: ...


class QueueStore(Protocol):
    """The spool's commit, the per-recipient queue rows it creates, and the heartbeats of
    the loop that leases them."""

    # -- spool ------------------------------------------------------------------
    def commit_messages(self, records: Sequence[SpoolRecord]) -> None:
        """Insert each message row and one QUEUED row per recipient, all in ONE transaction.

        Returns only after the transaction is durable (this is the 250 promise);
        raises StorageUnavailable if it is not.
        """
        ...

    # -- queue ------------------------------------------------------------------
    def lease_batch(self, owner: str, limit: int, lease_seconds: float) -> list[QueueItem]:
        """Claim up to ``limit`` due rows: QUEUED with next_attempt_at <= now, or LEASED
        with an expired lease. Sets LEASED, lease_owner, lease_until and attempts += 1."""
        ...

    def ack(self, item_ids: Sequence[int], owner: str) -> int:
        """Mark rows DONE; only rows still leased by ``owner`` change. Returns rows changed."""
        ...

    def defer(self, item_id: int, owner: str, error: str, retry_at: datetime) -> None:
        """Back to QUEUED with next_attempt_at = retry_at and last_error = error."""
        ...

    def fail(self, item_id: int, owner: str, error: str) -> None:
        """Mark FAILED (permanent) with last_error = error."""
        ...

    def settle(
        self,
        owner: str,
        done: Sequence[int] = (),
        deferred: Sequence[tuple[int, str, datetime]] = (),
        failed: Sequence[tuple[int, str]] = (),
    ) -> None:
        """A whole batch's outcomes in ONE transaction: ``done`` rows DONE, ``deferred``
        (id, error, retry_at) back to QUEUED, ``failed`` (id, error) FAILED. As with
        ack/defer/fail, only rows still leased by ``owner`` change."""
        ...

    def release_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        """Put back to QUEUED, due now, every LEASED row whose lease_owner starts with
        ``owner_prefix``, except those ``keep_owner`` holds; returns the rows released.

        A dispatcher's owner is ``<identity>/<incarnation>``: at start it releases
        ``<identity>/`` but keeps its own incarnation, so leases of other dispatchers
        (other nodes, other data dirs) are left alone. An empty prefix is a ValueError.
        """
        ...

    def oldest_due_at(self, now: datetime) -> datetime | None:
        """Since when the longest-waiting due row has been due: the earliest
        next_attempt_at of QUEUED rows due by ``now``, or lease_until of an expired
        lease, whichever is earlier; None when nothing is due."""
        ...

    def list_queue(self, state: QueueState | None = None, limit: int = 100) -> list[QueueItem]: ...

    def queue_counts(self) -> dict[QueueState, int]: ...

    def referenced_blob_keys(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` that some message row names as its blob (the blob sweeper's
        question: a blob no row names is an orphan)."""
        ...

    # -- loop heartbeats --------------------------------------------------------
    def record_heartbeat(self, loop: str, instance: str, at: datetime) -> None:
        """Remember that ``instance`` of ``loop`` made progress at ``at`` (overwrites)."""
        ...

    def last_heartbeat(self, loop: str) -> datetime | None:
        """The newest heartbeat of any instance of ``loop``; None if none was recorded."""
        ...


class EntryStore(Protocol):
    """Mailbox entries: a message as it sits in one mailbox, with folder, tags, flags and
    its thread (by Message-ID, In-Reply-To and References; rule in mairust.model.threads)."""

    def store_entry(self, entry: NewEntry) -> MailboxEntry:
        """Insert the entry, or return the existing one for (mailbox_id, message_id)."""
        ...

    def store_entries(self, new_entries: Sequence[NewEntry]) -> list[MailboxEntry | None]:
        """``store_entry`` for many in ONE transaction, results in the order given; None
        where the mailbox is gone (or not the entry's tenant's) or the message is unknown.
        Each new entry joins, in that transaction, the thread of every entry of its mailbox
        it shares an id with (threads it links are merged into one)."""
        ...

    def get_entry(self, scope: Scope, entry_id: str) -> MailboxEntry:
        """NotFound if absent or owned by another tenant."""
        ...

    def get_entries(self, scope: Scope, entry_ids: Sequence[str]) -> list[MailboxEntry]:
        """Entries in the order of ``entry_ids``; ids outside the scope are left out."""
        ...

    def list_entries(
        self,
        scope: Scope,
        mailbox_id: str | None = None,
        folder: str | None = None,
        limit: int = 50,
        before: str | None = None,
        *,
        from_addr: str | None = None,
        tag: str | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        unread: bool | None = None,
        flagged: bool | None = None,
        auth: Mapping[str, str] | None = None,
    ) -> list[MailboxEntry]:
        """Newest first; ``before`` is an entry id cursor (exclusive; NotFound when it is
        not an entry in the scope). Every filter given must hold: ``from_addr`` an address
        or ``@domain`` (case-insensitive); ``tag`` one of the entry's tags (exact);
        ``received_after`` <= received_at < ``received_before``; ``unread`` not seen (or
        seen, when False); ``flagged``; ``auth`` one word per method, keys from
        ``AUTH_FILTER_KEYS`` (``{"dmarc": "fail"}``; an unknown key is InvalidInput)."""
        ...

    def count_entries(self, scope: Scope) -> int:
        """Entries in the scope (all tenants for the admin scope)."""
        ...

    def count_entries_for_message(self, message_id: str) -> int: ...

    def set_tags(
        self, scope: Scope, entry_id: str, add: Sequence[str], remove: Sequence[str]
    ) -> MailboxEntry: ...

    def move_entry(self, scope: Scope, entry_id: str, folder: str) -> MailboxEntry: ...

    def set_flags(
        self,
        scope: Scope,
        entry_id: str,
        seen: bool | None = None,
        flagged: bool | None = None,
    ) -> MailboxEntry:
        """Set the flags given (None leaves one as it is); NotFound outside the scope."""
        ...

    def thread_of(self, scope: Scope, entry_id: str, limit: int = 1000) -> list[MailboxEntry]:
        """The entries of ``entry_id``'s thread in its mailbox, oldest first (at most
        ``limit``), the entry itself included; NotFound if it is not in the scope."""
        ...

    def list_threads(
        self,
        scope: Scope,
        mailbox_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[ThreadSummary]:
        """The threads in the scope, newest activity first, each with its newest entry
        and its size; ``before`` is the ``latest.id`` of the last thread of the previous
        page (exclusive)."""
        ...


class SearchBacklog(Protocol):
    """Entries whose indexing failed, kept durably until the indexer catches up."""

    def add_to_search_backlog(self, entry_ids: Sequence[str]) -> None:
        """Remember entries whose indexing failed (durably; duplicates ignored)."""
        ...

    def search_backlog(self, limit: int = 500) -> list[str]:
        """Entry ids waiting to be indexed, oldest first."""
        ...

    def remove_from_search_backlog(self, entry_ids: Sequence[str]) -> None: ...

    def search_backlog_size(self) -> int: ...


class MetadataStore(DirectoryStore, QueueStore, EntryStore, SearchBacklog, Protocol):
    """Every metadata role in one transactional store (one backend implements them all)."""

    def close(self) -> None: ...


class SearchIndex(Protocol):
    """Full-text search over mailbox entries."""

    # True when opening dropped an index of an older layout: every entry must be indexed
    # again (``mairust up`` then does it before it starts taking mail).
    needs_reindex: bool

    def index(self, documents: Sequence[SearchDocument]) -> None:
        """Insert or replace each document by entry_id (idempotent)."""
        ...

    def delete(self, entry_ids: Sequence[str]) -> None: ...

    def update_labels(self, entry_id: str, tags: Sequence[str], folder: str) -> bool:
        """Replace the tags and folder of the indexed document of ``entry_id``, leaving the
        rest of it as it is; searchable on return, like ``index``. False (and nothing
        written) when no document of ``entry_id`` is indexed: the caller indexes it whole."""
        ...

    def search(
        self,
        scope: Scope,
        query: str,
        mailbox_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
        filters: Mapping[str, str] | None = None,
    ) -> list[SearchHit]:
        """Entries matching every word of ``query`` (free text, never raw engine syntax),
        best first, and every filter (``{"dmarc": "fail"}``; keys from
        ``mairust.model.search_query.FILTER_KEYS``, newest first when there are no words).
        InvalidInput for an empty query without filters, or an unknown filter key."""
        ...

    def close(self) -> None: ...
