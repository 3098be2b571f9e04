"""``SqlMetadataStore``: the metadata role (directory, spool, queue, entries) on SQL.

SQLAlchemy Core over SQLite (embedded) or, next, PostgreSQL. The schema comes only
from the Alembic migrations (``mairust.storage.sql_migrations``); opening a store
never creates tables. The parts live in ``sql_directory``, ``sql_queue``,
``sql_entries`` (threads in ``sql_thread_links`` and ``sql_threads``), ``sql_backlog``,
``sql_heartbeats``, ``sql_tokens``, ``sql_audit``, ``sql_secrets``, ``sql_webhooks``,
``sql_quotas``, ``sql_folders``, ``sql_aliases``, ``sql_events``, ``sql_plugin_state`` and
``sql_dkim_keys``, ``sql_dmarc_reports`` and ``sql_tls_reports``;
connection set-up and error mapping in ``sql_engine``.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, Engine

from mairust.storage.sql_aliases import SqlAliases
from mairust.storage.sql_audit import SqlAudit
from mairust.storage.sql_backlog import SqlSearchBacklog
from mairust.storage.sql_directory import SqlDirectory
from mairust.storage.sql_dkim_keys import SqlDkimKeys
from mairust.storage.sql_dmarc_reports import SqlDmarcReports
from mairust.storage.sql_engine import DEFAULT_BUSY_TIMEOUT, SqlDatabase
from mairust.storage.sql_entries import SqlEntries
from mairust.storage.sql_events import SqlEvents
from mairust.storage.sql_folders import SqlFolders
from mairust.storage.sql_heartbeats import SqlLoopHeartbeats
from mairust.storage.sql_hook_jobs import SqlHookJobs
from mairust.storage.sql_mta_sts import SqlMtaStsPolicies
from mairust.storage.sql_outbound import SqlOutbound
from mairust.storage.sql_plugin_models import SqlPluginModels
from mairust.storage.sql_plugin_state import SqlPluginState
from mairust.storage.sql_plugins import SqlPlugins
from mairust.storage.sql_policy import SqlPolicy
from mairust.storage.sql_quarantine import SqlQuarantine
from mairust.storage.sql_queue import SqlQueue
from mairust.storage.sql_quotas import SqlQuotas
from mairust.storage.sql_secrets import SqlSecrets
from mairust.storage.sql_suppressions import SqlSuppressions
from mairust.storage.sql_threads import SqlThreads
from mairust.storage.sql_tls_reports import SqlTlsReports
from mairust.storage.sql_tokens import SqlTokens
from mairust.storage.sql_webhooks import SqlWebhookEndpoints, SqlWebhookOutbox


class SqlMetadataStore(
    SqlDirectory,
    SqlQueue,
    SqlEntries,
    SqlThreads,
    SqlSearchBacklog,
    SqlLoopHeartbeats,
    SqlTokens,
    SqlAudit,
    SqlSecrets,
    SqlWebhookEndpoints,
    SqlWebhookOutbox,
    SqlQuotas,
    SqlFolders,
    SqlAliases,
    SqlPolicy,
    SqlEvents,
    SqlPlugins,
    SqlHookJobs,
    SqlQuarantine,
    SqlPluginState,
    SqlPluginModels,
    SqlOutbound,
    SqlSuppressions,
    SqlDkimKeys,
    SqlMtaStsPolicies,
    SqlDmarcReports,
    SqlTlsReports,
):
    """Implements :class:`mairust.storage.protocols.MetadataStore`; thread-safe (pooled)."""

    def __init__(self, url: str | URL, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        """``busy_timeout`` is how long a write waits for another writer's lock (seconds)."""
        self._db = SqlDatabase(url, busy_timeout)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for diagnostics and tests; queries belong in this package)."""
        return self._db.engine

    def close(self) -> None:
        self._db.close()
