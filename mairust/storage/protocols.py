"""The storage roles as protocols; every backend implements one of them.

Three backends: message bodies (:class:`BlobStore`), full-text search
(:class:`SearchIndex`) and the transactional metadata (:class:`MetadataStore`). The
metadata store is itself several roles, so that each consumer names only the part it uses:
:class:`DirectoryStore` (tenants, domains, mailboxes), :class:`QueueStore` (the spool's
commit, the leased queue and its loop heartbeats), :class:`EntryStore` (mailbox entries),
:class:`SearchBacklog` (entries waiting to be indexed), :class:`TokenStore` (API tokens),
:class:`AuditStore` (the audit log), :class:`SecretStore` (sealed secrets),
:class:`WebhookEndpoints` (where tenants want their events), :class:`WebhookOutbox` (the
durable webhook deliveries), :class:`MailboxFolders` (folders, purges), :class:`QuotaStore`,
:class:`AliasStore` and :class:`EventStore` (each tenant's event log). One SQL class
implements them all; :class:`MetadataStore` combines them for whoever opens and closes it.

All methods are synchronous and thread-safe: async callers run them with
``asyncio.to_thread``. Failures to reach the backend raise
:class:`mairust.errors.StorageUnavailable`; a missing row in the caller's scope
raises :class:`mairust.errors.NotFound` (or returns ``None`` where documented).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from mairust.events import Event, RecordType
from mairust.model.access import ApiToken, AuditRecord
from mairust.model.directory import Alias, CatchAll, DkimKey, Domain, Mailbox, Tenant
from mairust.model.folders import FolderCount, Purged
from mairust.model.mailbox import (
    MailboxEntry,
    NewEntry,
    SearchDocument,
    SearchHit,
    ThreadSummary,
)
from mairust.model.message import BlobInfo, SpoolRecord
from mairust.model.principal import Role
from mairust.model.queue import QueueItem, QueueState
from mairust.model.scope import Scope
from mairust.model.secrets import SealedSecret, SecretPurpose, SecretRef
from mairust.model.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint


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

    def list_mailboxes(self, scope: Scope) -> list[Mailbox]: ...


class QueueStore(Protocol):
    """The spool's commit, the per-recipient queue rows it creates, and the heartbeats of
    the loop that leases them."""

    # -- spool ------------------------------------------------------------------
    def commit_messages(self, records: Sequence[SpoolRecord], events: Sequence[Event] = ()) -> None:
        """Insert each message row and one QUEUED row per recipient, all in ONE transaction,
        with each record's events and ``events`` (refusals noted meanwhile) in it too.

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
        events: Sequence[tuple[int, Event]] = (),
    ) -> None:
        """A whole batch's outcomes in ONE transaction: ``done`` rows DONE, ``deferred``
        (id, error, retry_at) back to QUEUED, ``failed`` (id, error) FAILED, and the
        ``events`` (row id, event) that tell it. As with ack/defer/fail, only rows still
        leased by ``owner`` change, and only their events are kept."""
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


class MailboxFolders(Protocol):
    """A mailbox's folders (names on entries, plus the empty ones a user created) and
    removing entries for good. Another tenant's mailbox or entry is NotFound."""

    def folder_counts(self, scope: Scope, mailbox_id: str) -> list[FolderCount]:
        """Every folder holding an entry or created empty, by name, with total and unseen."""
        ...

    def create_folder(self, scope: Scope, mailbox_id: str, name: str) -> None:
        """Conflict if it exists (created, or holding an entry)."""
        ...

    def rename_folder(self, scope: Scope, mailbox_id: str, old: str, new: str) -> list[str]:
        """Move every entry of ``old`` to ``new`` in one transaction; the entry ids moved.
        NotFound if ``old`` does not exist, Conflict if ``new`` does."""
        ...

    def delete_folder(self, scope: Scope, mailbox_id: str, name: str) -> None:
        """Forget an empty created folder; Conflict while it holds an entry."""
        ...

    def purge_entries(
        self, scope: Scope, entry_ids: Sequence[str], folder: str | None = None
    ) -> Purged:
        """Remove the entries in the scope (and ``folder``), and in the same transaction
        every message that no entry and no live queue row needs; the blob keys that no
        message row names any more (the caller deletes the blobs)."""
        ...

    def expired_entry_ids(self, folder: str, cutoff: datetime, limit: int = 500) -> list[str]:
        """Entries of every tenant that arrived in ``folder`` before ``cutoff``."""
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


class TokenStore(Protocol):
    """API tokens, kept as the HMAC digest of the token (the service computes it)."""

    def add_token(self, token: ApiToken, digest: str) -> None: ...

    def find_token(self, digest: str) -> ApiToken | None:
        """The token with this digest, whatever its state (the caller checks it)."""
        ...

    def list_tokens(
        self, scope: Scope, limit: int = 100, after: str | None = None
    ) -> list[ApiToken]:
        """By id; ``after`` is the last id of the previous page."""
        ...

    def get_token(self, scope: Scope, token_id: str) -> ApiToken:
        """NotFound if absent or outside the scope."""
        ...

    def revoke_token(self, scope: Scope, token_id: str, at: datetime) -> ApiToken:
        """Revoked from ``at`` (a second revoke keeps the first time); NotFound outside."""
        ...

    def touch_token(self, token_id: str, at: datetime) -> None:
        """Remember when the token was last used."""
        ...


class AuditStore(Protocol):
    """The audit log: append-only."""

    def append_audit(self, record: AuditRecord) -> None: ...

    def list_audit(
        self, scope: Scope, limit: int = 50, before: str | None = None
    ) -> list[AuditRecord]:
        """Newest first; ``before`` is a record id from a previous page (exclusive)."""
        ...


class SecretStore(Protocol):
    """Sealed secrets of tenants. The store never sees a value: ``mairust.secrets`` seals
    it first (the ciphertext is bound to the row's id, tenant and purpose).

    Every read and delete is reached through a scope: a secret of another tenant is
    NotFound. Secrets belong to a tenant, not a mailbox: a scope that names a mailbox
    sees none.
    """

    def put_secret(self, secret: SealedSecret) -> None:
        """Insert a sealed secret under its own id; NotFound if its tenant does not exist,
        Conflict if the id is taken."""
        ...

    def get_secret(self, scope: Scope, secret_id: str) -> SealedSecret:
        """The sealed secret; NotFound if absent or outside ``scope``."""
        ...

    def delete_secret(self, scope: Scope, secret_id: str) -> None:
        """Remove it; NotFound if absent or outside ``scope``."""
        ...

    def list_secrets(self, scope: Scope, purpose: SecretPurpose | None = None) -> list[SecretRef]:
        """References only (no ciphertext), by tenant, then oldest first."""
        ...

    def sealed_secrets_page(self, after: str | None, limit: int) -> list[SealedSecret]:
        """Every tenant's sealed secrets with id > ``after``, by id (for key rotation)."""
        ...

    def replace_sealed_secret(self, old: SealedSecret, new_key_id: str, ciphertext: bytes) -> bool:
        """Store ``ciphertext`` (sealed under ``new_key_id``) in place of ``old``'s, only if
        the row still holds ``old.ciphertext``; False when it changed or is gone."""
        ...

    def count_secrets_by_key(self) -> dict[str, int]:
        """How many secrets each key id sealed (every tenant)."""


class WebhookEndpoints(Protocol):
    """A tenant's webhook endpoints: url, the id of the signing secret in the secret store,
    the event types wanted (empty: all), enabled or not."""

    def add_webhook_endpoint(
        self,
        tenant_id: str,
        url: str,
        secret_id: str,
        event_types: Sequence[str] = (),
        enabled: bool = True,
    ) -> WebhookEndpoint:
        """NotFound if the tenant does not exist."""
        ...

    def get_webhook_endpoint(self, scope: Scope, endpoint_id: str) -> WebhookEndpoint:
        """NotFound if absent or owned by another tenant."""
        ...

    def list_webhook_endpoints(self, scope: Scope) -> list[WebhookEndpoint]: ...

    def update_webhook_endpoint(
        self,
        scope: Scope,
        endpoint_id: str,
        url: str | None = None,
        secret_id: str | None = None,
        event_types: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """Change what is given (None: unchanged); NotFound outside the scope. Deliveries
        not sent yet go to the new url with the new secret."""
        ...

    def delete_webhook_endpoint(self, scope: Scope, endpoint_id: str) -> None:
        """Remove the endpoint and its deliveries; NotFound outside the scope."""
        ...


class WebhookOutbox(Protocol):
    """Deliveries of events to endpoints, durable and leased like the message queue: the
    store holds every retry timer, so a delivery loop that restarts loses nothing."""

    def enqueue_webhook_event(
        self, tenant_id: str, event_id: str, event_type: str, body: str
    ) -> list[WebhookDelivery]:
        """One PENDING delivery of ``body`` per enabled endpoint of the tenant that wants
        ``event_type``, in ONE transaction; an (endpoint, event) already enqueued is not
        enqueued again (its existing delivery is returned)."""
        ...

    def enqueue_webhook(
        self, tenant_id: str, endpoint_id: str, event_id: str, event_type: str, body: str
    ) -> WebhookDelivery:
        """One delivery to one endpoint of the tenant (NotFound otherwise), idempotent per
        (endpoint, event) like ``enqueue_webhook_event``."""
        ...

    def lease_webhook_deliveries(
        self, owner: str, limit: int, lease_seconds: float
    ) -> list[WebhookDelivery]:
        """Claim up to ``limit`` due deliveries of enabled endpoints: PENDING with
        next_attempt_at <= now, or LEASED with an expired lease. Sets LEASED, the lease
        and attempts += 1."""
        ...

    def mark_webhook_delivered(self, delivery_id: str, owner: str, status: int) -> bool:
        """DELIVERED, if ``owner`` still holds the lease; False (nothing changed) if not."""
        ...

    def defer_webhook_delivery(
        self,
        delivery_id: str,
        owner: str,
        error: str,
        retry_at: datetime,
        status: int | None = None,
    ) -> bool:
        """Back to PENDING at ``retry_at`` with the error (and HTTP status, if any), if
        ``owner`` still holds the lease."""
        ...

    def fail_webhook_delivery(
        self, delivery_id: str, owner: str, error: str, status: int | None = None
    ) -> bool:
        """FAILED (given up, kept and listed), if ``owner`` still holds the lease."""
        ...

    def release_webhook_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        """As ``QueueStore.release_leases``, for webhook deliveries."""
        ...

    def redeliver_webhook(self, scope: Scope, delivery_id: str) -> WebhookDelivery:
        """A FAILED or DELIVERED delivery back to PENDING, due now, attempts reset;
        NotFound outside the scope."""
        ...

    def list_webhook_deliveries(
        self,
        scope: Scope,
        state: DeliveryState | None = None,
        endpoint_id: str | None = None,
        limit: int = 100,
    ) -> list[WebhookDelivery]:
        """Newest first."""
        ...


class QuotaStore(Protocol):
    """Mailbox quotas. Usage (``Mailbox.used_bytes``) is a counter the entry store keeps
    in the transactions that store and purge entries; this role sets the limits."""

    def set_mailbox_quota(self, scope: Scope, mailbox_id: str, quota_bytes: int | None) -> Mailbox:
        """Set the mailbox's own quota in bytes (None: the configured default; 0:
        unlimited) and return the mailbox; NotFound if absent or outside ``scope``,
        InvalidInput for a negative quota."""
        ...


class AliasStore(Protocol):
    """Aliases, catch-alls and DKIM keys of local domains. Reads and deletes go through a
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

    def add_dkim_key(self, key: DkimKey) -> None:
        """Conflict if the domain has one already."""
        ...

    def get_dkim_key(self, domain: str) -> DkimKey | None: ...


class EventStore(Protocol):
    """Each tenant's event log (receptions, refusals, deliveries, failures). Rows are
    written by the spool's commit and the pipeline's settle; every read goes through a
    scope (a tenant's events only; a user's scope sees none)."""

    def append_events(self, batch: Sequence[Event]) -> None:
        """Insert ``batch`` in one transaction (unpublished)."""
        ...

    def list_events(
        self,
        scope: Scope,
        kinds: Sequence[RecordType] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Event]:
        """Newest first, of ``kinds`` (all if empty), ``since`` <= at < ``until``;
        ``before`` is an event id from a previous page (NotFound outside the scope)."""
        ...

    def trace_events(
        self,
        scope: Scope,
        message_id: str | None = None,
        header_message_id: str | None = None,
        recipient: str | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        """Everything recorded of one queue id, one Message-ID header (with every event of
        the queue ids it was seen under) or one recipient, oldest first; exactly one of
        them (InvalidInput otherwise)."""
        ...

    def unpublished_events(self, limit: int) -> list[Event]:
        """Events of every tenant not yet handed to the webhook outbox, oldest id first."""
        ...

    def mark_events_published(self, event_ids: Sequence[str]) -> None: ...


class MetadataStore(
    DirectoryStore,
    QueueStore,
    EntryStore,
    SearchBacklog,
    TokenStore,
    AuditStore,
    SecretStore,
    WebhookEndpoints,
    WebhookOutbox,
    QuotaStore,
    MailboxFolders,
    AliasStore,
    EventStore,
    Protocol,
):
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
