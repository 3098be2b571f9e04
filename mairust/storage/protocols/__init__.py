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
:class:`AliasStore`, :class:`PolicyStore` (domain policies, routing rules) and
:class:`EventStore` (each tenant's event log), :class:`PluginStore` (installed plugins,
hook bindings), :class:`HookJobStore` (asynchronous hook jobs) and
:class:`QuarantineStore` (held mail's release) and :class:`PluginStateStore` (plugins'
small key/value state), :class:`OutboundQueue` (remote recipients, their attempts),
:class:`SuppressionStore` (each tenant's suppression list), :class:`DkimKeyStore`
(sending domains' DKIM keys), :class:`MtaStsPolicyStore` (recipient domains' MTA-STS
policies), :class:`DmarcReportStore` (DMARC aggregate reports received, and what the
ones sent are made of) and :class:`TlsReportStore` (TLS-RPT counts, reports sent). One SQL class
implements them all; :class:`MetadataStore` combines them for whoever opens and closes it.

The roles live in modules by subject (``bodies``, ``directory``, ``queue``, ``mailboxes``,
``access``, ``events``, ``plugins``); import them from this package, which names them all.

All methods are synchronous and thread-safe: async callers run them with
``asyncio.to_thread``. Failures to reach the backend raise
:class:`mairust.errors.StorageUnavailable`; a missing row in the caller's scope
raises :class:`mairust.errors.NotFound` (or returns ``None`` where documented).
"""

from __future__ import annotations

from typing import Protocol

from mairust.storage.protocols.access import AuditStore, SecretStore, TokenStore
from mairust.storage.protocols.bodies import BlobStore, SearchIndex
from mairust.storage.protocols.directory import (
    AliasStore,
    DirectoryStore,
    PolicyStore,
    QuotaStore,
)
from mairust.storage.protocols.dkim_keys import DkimKeyStore
from mairust.storage.protocols.dmarc_reports import DmarcReportStore
from mairust.storage.protocols.events import EventStore, WebhookEndpoints, WebhookOutbox
from mairust.storage.protocols.mailboxes import EntryStore, MailboxFolders, QuarantineStore
from mairust.storage.protocols.mta_sts import MtaStsPolicyStore
from mairust.storage.protocols.outbound import OutboundQueue
from mairust.storage.protocols.plugin_models import PluginModelStore
from mairust.storage.protocols.plugins import HookJobStore, PluginStateStore, PluginStore
from mairust.storage.protocols.queue import QueueStore, SearchBacklog
from mairust.storage.protocols.suppressions import SuppressionStore
from mairust.storage.protocols.tls_reports import TlsReportStore

__all__ = [
    "AliasStore",
    "AuditStore",
    "BlobStore",
    "DirectoryStore",
    "DkimKeyStore",
    "DmarcReportStore",
    "EntryStore",
    "EventStore",
    "HookJobStore",
    "MailboxFolders",
    "MetadataStore",
    "MtaStsPolicyStore",
    "OutboundQueue",
    "PluginModelStore",
    "PluginStateStore",
    "PluginStore",
    "PolicyStore",
    "QuarantineStore",
    "QueueStore",
    "QuotaStore",
    "SearchBacklog",
    "SearchIndex",
    "SecretStore",
    "SuppressionStore",
    "TlsReportStore",
    "TokenStore",
    "WebhookEndpoints",
    "WebhookOutbox",
]


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
    PolicyStore,
    EventStore,
    PluginStore,
    HookJobStore,
    QuarantineStore,
    PluginStateStore,
    PluginModelStore,
    OutboundQueue,
    SuppressionStore,
    DkimKeyStore,
    MtaStsPolicyStore,
    DmarcReportStore,
    TlsReportStore,
    Protocol,
):
    """Every metadata role in one transactional store (one backend implements them all)."""

    def close(self) -> None: ...
