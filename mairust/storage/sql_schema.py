"""The metadata schema as SQLAlchemy Core tables, plus the two column types it needs.

Dialect-neutral on purpose: the same tables serve SQLite (embedded) and PostgreSQL.
The schema is created only by the Alembic migrations in ``migrations/versions``;
this module is what the queries are written against (and what autogenerate diffs).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# BIGINT on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" aliases the rowid (autoincrement).
QUEUE_ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the dialect keeps.

    PostgreSQL stores ``timestamptz``; SQLite stores fixed-width text that sorts
    in time order, without an offset, so naive values read back are UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # a naive time from a caller is taken to be UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class JsonStrings(sa.TypeDecorator[tuple[str, ...]]):
    """A tuple of strings kept as JSON text (same bytes on every dialect)."""

    impl = sa.Text()
    cache_ok = True

    def process_bind_param(self, value: tuple[str, ...] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(list(value), ensure_ascii=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[str, ...] | None:
        if value is None:
            return None
        return tuple(str(item) for item in json.loads(value))


class JsonObject(sa.TypeDecorator[dict[str, Any]]):
    """A JSON object kept as text (same bytes on every dialect); None stays NULL."""

    impl = sa.Text()
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        loaded: dict[str, Any] = json.loads(value)
        return loaded


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # The region whose stores hold the tenant's mail (mairust.regions); NULL: this one.
    sa.Column("home_region", sa.Text, nullable=True),
)

domains = sa.Table(
    "domains",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Added by 0014: the domain's own policy (NULL: the configuration's).
    sa.Column("spf_mode", sa.Text, nullable=True),
    sa.Column("dmarc_mode", sa.Text, nullable=True),
    sa.Column("max_message_bytes", sa.BigInteger, nullable=True),
    sa.Column("messages_per_minute", sa.Integer, nullable=True),
)

mailboxes = sa.Table(
    "mailboxes",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("address", sa.Text, nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Added by 0006: "user" or "tenant_admin" (the platform admin is not a mailbox).
    sa.Column("role", sa.Text, nullable=False, server_default="user"),
    # Added by 0012: the mailbox's own quota (NULL: the configured default; 0: unlimited)
    # and the bytes its entries take, kept in the transactions that store and purge them.
    sa.Column("quota_bytes", sa.BigInteger, nullable=True),
    sa.Column("used_bytes", sa.BigInteger, nullable=False, server_default="0"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("blob_key", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mail_from", sa.Text, nullable=False),
    sa.Column("rcpt_tos", JsonStrings, nullable=False),
    sa.Column("helo", sa.Text, nullable=False),
    sa.Column("client_ip", sa.Text, nullable=False),
    sa.Column("authenticated_as", sa.Text, nullable=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    # Added by 0002: authentication results and accept-time annotations (folder, tags).
    sa.Column("auth_results", JsonObject, nullable=True),
    sa.Column("annotations", JsonObject, nullable=True),
    # Added by 0005: the blob sweeper looks blobs up by key.
    sa.Index("ix_messages_blob_key", "blob_key"),
    # Added by 0028: the DMARC report builder reads a period's messages.
    sa.Index("ix_messages_received_at", "received_at"),
)

queue = sa.Table(
    "queue",
    metadata,
    sa.Column("id", QUEUE_ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Text, sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("message_id", "recipient"),
    sa.Index("ix_queue_state_next_attempt_at", "state", "next_attempt_at"),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("mailbox_id", sa.Text, sa.ForeignKey("mailboxes.id"), nullable=False),
    sa.Column("message_id", sa.Text, sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("folder", sa.Text, nullable=False),
    sa.Column("tags", JsonStrings, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("from_addr", sa.Text, nullable=False),
    sa.Column("to_addrs", JsonStrings, nullable=False),
    sa.Column("date", UtcDateTime, nullable=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    # Added by 0009: the thread (an entry id, shared by the thread's entries in this
    # mailbox), the normalised headers it was found by, flags, and one authentication
    # word per method (spf, dkim, dmarc, arc) for listing filters.
    sa.Column("thread_id", sa.Text, nullable=False),
    sa.Column("header_message_id", sa.Text, nullable=True),
    sa.Column("header_in_reply_to", sa.Text, nullable=True),
    sa.Column("header_references", JsonStrings, nullable=False),
    sa.Column("seen", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("auth_spf", sa.Text, nullable=True),
    sa.Column("auth_dkim", sa.Text, nullable=True),
    sa.Column("auth_dmarc", sa.Text, nullable=True),
    sa.Column("auth_arc", sa.Text, nullable=True),
    # Added by 0010: when the entry last changed folder (None: never moved).
    sa.Column("moved_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("mailbox_id", "message_id"),
    # Listings are newest first: per mailbox and folder, per mailbox, per tenant.
    sa.Index("ix_entries_mailbox_folder_received", "mailbox_id", "folder", "received_at", "id"),
    sa.Index("ix_entries_mailbox_received", "mailbox_id", "received_at", "id"),
    sa.Index("ix_entries_tenant_received", "tenant_id", "received_at", "id"),
    # Added by 0033: the platform's listing (every tenant's entries).
    sa.Index("ix_entries_received", "received_at", "id"),
    sa.Index("ix_entries_message_id", "message_id"),
    # Added by 0009: a thread's entries, oldest first; renaming a thread when two merge.
    sa.Index("ix_entries_mailbox_thread_received", "mailbox_id", "thread_id", "received_at", "id"),
    # Added by 0010: Trash and Junk retention.
    sa.Index("ix_entries_folder_moved_at", "folder", "moved_at"),
)

thread_links = sa.Table(
    "thread_links",
    metadata,
    # Added by 0009: each entry's own Message-ID and the ids it references, one row each,
    # so "which entries of this mailbox name any of these ids" is one index range per id.
    # Goes with its entry (a purged entry takes its links along).
    sa.Column(
        "entry_id",
        sa.Text,
        sa.ForeignKey("entries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("msgid", sa.Text, primary_key=True),
    sa.Column("mailbox_id", sa.Text, nullable=False),
    sa.Index("ix_thread_links_mailbox_msgid", "mailbox_id", "msgid"),
)

search_backlog = sa.Table(
    "search_backlog",
    metadata,
    # Added by 0003: entries stored while the search role was down, to index when it is back.
    sa.Column("entry_id", sa.Text, sa.ForeignKey("entries.id"), primary_key=True),
    sa.Column("added_at", UtcDateTime, nullable=False),
)

loop_heartbeats = sa.Table(
    "loop_heartbeats",
    metadata,
    # Added by 0004: when each instance of a background loop last made progress (the
    # dispatcher's lease loop writes it every few seconds; /healthz reads it).
    sa.Column("loop", sa.Text, primary_key=True),
    sa.Column("instance", sa.Text, primary_key=True),
    sa.Column("beat_at", UtcDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    # Added by 0006: API tokens, kept as an HMAC-SHA-256 digest of the token (never the
    # token itself). tenant_id is NULL only for a platform admin token.
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("digest", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=True),
    sa.Column("mailbox_id", sa.Text, sa.ForeignKey("mailboxes.id"), nullable=True),
    sa.Column("permissions", JsonStrings, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Index("ix_api_tokens_tenant_id", "tenant_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    # Added by 0006: every admin and tenant-admin action (who, what, when, from where).
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=True),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("details", JsonObject, nullable=True),
    sa.Index("ix_audit_log_tenant_at", "tenant_id", "at", "id"),
    sa.Index("ix_audit_log_at", "at", "id"),
)

secrets = sa.Table(
    "secrets",
    metadata,
    # Added by 0007: secrets sealed by mairust.secrets (AES-256-GCM, bound to id, tenant and
    # purpose); key_id names the master key that sealed the row, so rotation finds old ones.
    sa.Column("id", sa.Text, primary_key=True),
    # Null (0021): the platform's own secret (a plugin's).
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=True),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_secrets_tenant_id_created_at", "tenant_id", "created_at", "id"),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    # Added by 0008: where a tenant's events are POSTed. The signing secret lives in the
    # secret store; this row names it by id only.
    sa.Column("id", sa.Text, primary_key=True),
    # Null (0022): a webhook plugin's endpoint, the platform's (``plugin`` names it).
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=True, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret_id", sa.Text, nullable=False),
    sa.Column("event_types", JsonStrings, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("plugin", sa.Text, nullable=True),
    sa.UniqueConstraint("plugin"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    # Added by 0008: the durable webhook outbox, one row per (endpoint, event), leased like
    # the queue; delivered and failed rows stay, for the tenant to see.
    sa.Column("id", sa.Text, primary_key=True),
    # Null (0022): a webhook plugin's delivery.
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=True),
    sa.Column("endpoint_id", sa.Text, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("endpoint_id", "event_id"),
    sa.Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_tenant_created", "tenant_id", "created_at", "id"),
    # Added by 0033: the platform's listing (every tenant's deliveries).
    sa.Index("ix_webhook_deliveries_created", "created_at", "id"),
)

folders = sa.Table(
    "folders",
    metadata,
    # Added by 0010: folders created (or renamed to) by a user, so an empty one still lists.
    sa.Column("mailbox_id", sa.Text, sa.ForeignKey("mailboxes.id"), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

aliases = sa.Table(
    "aliases",
    metadata,
    # Added by 0013: an alias address of a local domain, delivered to its targets.
    sa.Column("address", sa.Text, primary_key=True),
    sa.Column("domain", sa.Text, sa.ForeignKey("domains.name"), nullable=False),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_aliases_domain_address", "domain", "address"),
)

alias_targets = sa.Table(
    "alias_targets",
    metadata,
    # Added by 0013: one row per (alias, mailbox), so a target named twice gets one copy.
    sa.Column(
        "alias_address",
        sa.Text,
        sa.ForeignKey("aliases.address", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "mailbox_id",
        sa.Text,
        sa.ForeignKey("mailboxes.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

domain_catchalls = sa.Table(
    "domain_catchalls",
    metadata,
    # Added by 0013: the mailbox that takes mail for a domain's unknown addresses.
    sa.Column("domain", sa.Text, sa.ForeignKey("domains.name"), primary_key=True),
    sa.Column(
        "mailbox_id", sa.Text, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    # Added by 0011: the event log of each tenant (mairust.events.Event). No foreign key to
    # tenants on purpose: these rows ride in the spool's group commit, and an event must
    # never be the reason a batch of messages misses its 250. ``published`` is false until
    # the webhook drain has put the event in the outbox (partial index: only those).
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("message_id", sa.Text, nullable=True),
    sa.Column("header_message_id", sa.Text, nullable=True),
    sa.Column("recipient", sa.Text, nullable=True),
    sa.Column("reply", sa.Text, nullable=True),
    sa.Column("detail", JsonObject, nullable=True),
    sa.Column("published", sa.Boolean, nullable=False),
    sa.Index("ix_events_tenant_at", "tenant_id", "at", "id"),
    # Added by 0033: the platform's listing (every tenant's events).
    sa.Index("ix_events_at", "at", "id"),
    sa.Index("ix_events_tenant_message", "tenant_id", "message_id"),
    sa.Index("ix_events_tenant_header_message", "tenant_id", "header_message_id"),
    sa.Index("ix_events_tenant_recipient_at", "tenant_id", "recipient", "at"),
    sa.Index(
        "ix_events_unpublished",
        "id",
        sqlite_where=sa.text("NOT published"),
        postgresql_where=sa.text("NOT published"),
    ),
    # Added by 0030: a period's refusals, which the DMARC reports we send read (partial:
    # no cost to the other events' inserts).
    sa.Index(
        "ix_events_rejections_at",
        "at",
        sqlite_where=sa.text("type = 'Rejection'"),
        postgresql_where=sa.text("type = 'Rejection'"),
    ),
)

# Added by 0014: where addresses of a domain matching a local-part pattern go.
routing_rules = sa.Table(
    "routing_rules",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("domain", sa.Text, sa.ForeignKey("domains.name"), nullable=False),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("pattern", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("domain", "pattern"),
    sa.Index("ix_routing_rules_domain_position", "domain", "position"),
)

# Added by 0015: installed plugins (their manifest as read) and their hook bindings.
plugins = sa.Table(
    "plugins",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("manifest", JsonObject, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("config", JsonObject, nullable=False),
    sa.Column("installed_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

hook_bindings = sa.Table(
    "hook_bindings",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("plugin", sa.Text, sa.ForeignKey("plugins.name", ondelete="CASCADE"), nullable=False),
    sa.Column("point", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=True),
    sa.Column("domain", sa.Text, sa.ForeignKey("domains.name"), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_hook_bindings_point_priority", "point", "priority"),
)

# Added by 0016: every call of a plugin at a hook point, written in batches.
hook_calls = sa.Table(
    "hook_calls",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("point", sa.Text, nullable=False),
    sa.Column("plugin", sa.Text, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("dropped", JsonStrings, nullable=False),
    sa.Index("ix_hook_calls_plugin_id", "plugin", "id"),
)

# Added by 0020: a plugin's running totals beside its call log, and its circuit breakers.
hook_call_counts = sa.Table(
    "hook_call_counts",
    metadata,
    sa.Column("plugin", sa.Text, primary_key=True),
    sa.Column("point", sa.Text, primary_key=True),
    sa.Column("mode", sa.Text, primary_key=True),
    sa.Column("outcome", sa.Text, primary_key=True),
    sa.Column("verdict", sa.Text, primary_key=True),
    sa.Column("calls", sa.BigInteger, nullable=False),
    sa.Column("latency_ms_sum", sa.Float, nullable=False),
)

hook_call_latency = sa.Table(
    "hook_call_latency",
    metadata,
    sa.Column("plugin", sa.Text, primary_key=True),
    sa.Column("point", sa.Text, primary_key=True),
    sa.Column("mode", sa.Text, primary_key=True),
    # The index of the bucket in model.plugins.LATENCY_BUCKETS_MS.
    sa.Column("bucket", sa.Integer, primary_key=True),
    sa.Column("calls", sa.BigInteger, nullable=False),
)

hook_breakers = sa.Table(
    "hook_breakers",
    metadata,
    sa.Column("plugin", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
    sa.Column("open_seconds", sa.Float, nullable=False),
    sa.Column("times_opened", sa.Integer, nullable=False),
)

# Added by 0021: which secret row holds each secret a plugin's manifest names.
plugin_secrets = sa.Table(
    "plugin_secrets",
    metadata,
    sa.Column(
        "plugin", sa.Text, sa.ForeignKey("plugins.name", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("secret_id", sa.Text, sa.ForeignKey("secrets.id"), nullable=False),
    sa.Column("set_at", UtcDateTime, nullable=False),
)

# Added by 0017: asynchronous hook jobs, one per (message, plugin, point), leased like the
# queue; ``result`` is the verdict's effect as recorded (applied for an enforce binding).
hook_jobs = sa.Table(
    "hook_jobs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("binding_id", sa.Text, nullable=False),
    sa.Column("plugin", sa.Text, nullable=False),
    sa.Column("point", sa.Text, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=True),
    sa.Column("domain", sa.Text, nullable=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("callback_until", UtcDateTime, nullable=True),
    sa.Column("result", JsonObject, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("message_id", "plugin", "point"),
    sa.Index("ix_hook_jobs_state_next_attempt_at", "state", "next_attempt_at"),
)

# Added by 0022: plugins' small key/value state (serve plugins with the ``state``
# permission), each entry expiring; what has expired is never read, and is swept on write.
plugin_state = sa.Table(
    "plugin_state",
    metadata,
    sa.Column("plugin", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_plugin_state_expires_at", "expires_at"),
)

# Added by 0023: learning plugins' trained models, newest few versions per plugin.
plugin_models = sa.Table(
    "plugin_models",
    metadata,
    sa.Column(
        "plugin", sa.Text, sa.ForeignKey("plugins.name", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("model", sa.LargeBinary, nullable=False),
    sa.Column("examples", sa.Integer, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Added by 0024: the outbound queue. One row per (message, remote recipient), made by the
# spool's commit; leased by the delivery loop by destination; settled with an attempt row.
outbound_recipients = sa.Table(
    "outbound_recipients",
    metadata,
    sa.Column("id", QUEUE_ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Text, sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=True),
    sa.Column("mail_from", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("destination", sa.Text, nullable=False),
    sa.Column("relay_host", sa.Text, nullable=True),
    sa.Column("notify", JsonStrings, nullable=True),
    sa.Column("orcpt", sa.Text, nullable=True),
    sa.Column("ret", sa.Text, nullable=True),
    sa.Column("envid", sa.Text, nullable=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_reply", sa.Text, nullable=True),
    sa.Column("bounce_class", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # Added by 0030: when the recipient's one "delayed" DSN was made.
    sa.Column("delay_notified_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("message_id", "recipient"),
    sa.Index("ix_outbound_recipients_state_next_attempt_at", "state", "next_attempt_at"),
    sa.Index("ix_outbound_recipients_destination_state", "destination", "state"),
)

outbound_attempts = sa.Table(
    "outbound_attempts",
    metadata,
    sa.Column("id", QUEUE_ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("recipient_id", QUEUE_ID_TYPE, nullable=False),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("reply", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=True),
    sa.Column("address", sa.Text, nullable=True),
    sa.Column("bounce_class", sa.Text, nullable=True),
    sa.Index("ix_outbound_attempts_message_id", "message_id"),
)

# Added by 0025: each tenant's suppression list (addresses it must not send to, and why).
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("address", sa.Text, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Added by 0026: sending domains' DKIM keys; the private halves are in ``secrets``. At
# most one active key per (domain, algorithm): rotation retires the old one in the same
# transaction that adds the new.
dkim_keys = sa.Table(
    "dkim_keys",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("domain", sa.Text, sa.ForeignKey("domains.name"), nullable=False),
    sa.Column("selector", sa.Text, nullable=False),
    sa.Column("algorithm", sa.Text, nullable=False),
    sa.Column("public_key", sa.Text, nullable=False),
    sa.Column("secret_id", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("retired_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("domain", "selector"),
    sa.Index(
        "ux_dkim_keys_active_algorithm",
        "domain",
        "algorithm",
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    ),
)

# Added by 0027: recipient domains' MTA-STS policies as fetched, one row per domain.
mta_sts_policies = sa.Table(
    "mta_sts_policies",
    metadata,
    sa.Column("domain", sa.Text, primary_key=True),
    sa.Column("policy_id", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("fetched_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

# Added by 0028: DMARC aggregate reports received for the tenants' domains, one row per
# (domain, reporting org, report id): a report mailed twice is kept once. The rows of the
# report are kept as JSON (read back whole, never queried into); the counts beside them
# are what listings show.
dmarc_reports = sa.Table(
    "dmarc_reports",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("domain", sa.Text, sa.ForeignKey("domains.name"), nullable=False),
    sa.Column("org_name", sa.Text, nullable=False),
    sa.Column("report_id", sa.Text, nullable=False),
    sa.Column("begin_at", UtcDateTime, nullable=False),
    sa.Column("end_at", UtcDateTime, nullable=False),
    sa.Column("messages", sa.BigInteger, nullable=False),
    sa.Column("passed", sa.BigInteger, nullable=False),
    sa.Column("failed", sa.BigInteger, nullable=False),
    sa.Column("report", JsonObject, nullable=False),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("domain", "org_name", "report_id"),
    sa.Index("ix_dmarc_reports_domain_id", "domain", "id"),
)

# Added by 0028: the periods whose aggregate reports we sent (or are sending): claimed
# before the reports are built, so a period goes out at most once whoever runs it.
dmarc_report_periods = sa.Table(
    "dmarc_report_periods",
    metadata,
    sa.Column("period_end", UtcDateTime, primary_key=True),
    sa.Column("claimed_at", UtcDateTime, nullable=False),
)

# Added by 0029: TLS-RPT counts per UTC day. ``row_key`` is a digest of the other key
# columns (a policy's text is too long for an index of its own); a flush adds its counts
# to the row of the same key, so every delivery loop and restart adds up.
tls_report_counts = sa.Table(
    "tls_report_counts",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("row_key", sa.Text, primary_key=True),
    sa.Column("policy_domain", sa.Text, nullable=False),
    sa.Column("policy_type", sa.Text, nullable=False),
    sa.Column("policy_string", sa.Text, nullable=False),
    sa.Column("mx_hosts", sa.Text, nullable=False),
    sa.Column("result_type", sa.Text, nullable=False),
    sa.Column("sending_ip", sa.Text, nullable=False),
    sa.Column("receiving_mx", sa.Text, nullable=False),
    sa.Column("receiving_ip", sa.Text, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# Added by 0029: the (day, policy domain) TLS reports claimed for sending, before they go.
tls_reports_sent = sa.Table(
    "tls_reports_sent",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("policy_domain", sa.Text, primary_key=True),
    sa.Column("report_id", sa.Text, nullable=False),
    sa.Column("destinations", sa.Text, nullable=False),
    sa.Column("claimed_at", UtcDateTime, nullable=False),
)

# Added by 0032: every migration of the chain the newest migrating code knows, with its
# phase and the oldest code revision that may run on its schema (schema_revisions.py), so
# that older code can tell whether it may run on a database newer than itself.
schema_revisions = sa.Table(
    "schema_revisions",
    metadata,
    sa.Column("revision", sa.Text, primary_key=True),
    sa.Column("down_revision", sa.Text, nullable=True),
    sa.Column("phase", sa.Text, nullable=False),
    sa.Column("oldest_code", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)
