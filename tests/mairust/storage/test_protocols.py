"""The metadata roles: each method of the metadata store belongs to exactly one role, and
the SQL store plays every role (checked by mypy on the assignments below, and at run
time by name and parameters)."""

from __future__ import annotations

import inspect
from pathlib import Path

from mairust.storage.protocols import (
    AliasStore,
    AuditStore,
    DirectoryStore,
    DkimKeyStore,
    DmarcReportStore,
    EntryStore,
    EventStore,
    HookJobStore,
    MailboxFolders,
    MetadataStore,
    MtaStsPolicyStore,
    OutboundQueue,
    PluginModelStore,
    PluginStateStore,
    PluginStore,
    PolicyStore,
    QuarantineStore,
    QueueStore,
    QuotaStore,
    SearchBacklog,
    SecretStore,
    SuppressionStore,
    TlsReportStore,
    TokenStore,
    WebhookEndpoints,
    WebhookOutbox,
)
from mairust.storage.sql_metadata import SqlMetadataStore

ROLES: tuple[type, ...] = (
    DirectoryStore,
    QueueStore,
    EntryStore,
    SearchBacklog,
    SecretStore,
    TokenStore,
    AuditStore,
    WebhookEndpoints,
    WebhookOutbox,
    MailboxFolders,
    QuotaStore,
    AliasStore,
    PolicyStore,
    EventStore,
    PluginStore,
    HookJobStore,
    QuarantineStore,
    PluginModelStore,
    PluginStateStore,
    OutboundQueue,
    SuppressionStore,
    DkimKeyStore,
    MtaStsPolicyStore,
    DmarcReportStore,
    TlsReportStore,
)


def _methods(protocol: type) -> set[str]:
    """The methods ``protocol`` declares itself (not those it inherits)."""
    return {
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }


def _all_methods(protocol: type) -> set[str]:
    return set().union(*(_methods(base) for base in protocol.__mro__ if base is not object))


def test_every_metadata_method_belongs_to_exactly_one_role() -> None:
    seen: dict[str, str] = {}
    for role in ROLES:
        assert _methods(role), role
        for name in _methods(role):
            assert name not in seen, f"{name} is in {seen.get(name)} and {role.__name__}"
            seen[name] = role.__name__
    assert _all_methods(MetadataStore) == set(seen) | {"close"}
    assert set(MetadataStore.__mro__) >= set(ROLES)


def test_the_sql_store_plays_every_role(tmp_path: Path) -> None:
    store = SqlMetadataStore(f"sqlite:///{tmp_path / 'metadata.db'}")
    try:
        # mypy checks each assignment against the role's signatures.
        directory: DirectoryStore = store
        queue: QueueStore = store
        entries: EntryStore = store
        backlog: SearchBacklog = store
        secrets: SecretStore = store
        tokens: TokenStore = store
        audit: AuditStore = store
        endpoints: WebhookEndpoints = store
        outbox: WebhookOutbox = store
        folders: MailboxFolders = store
        quotas: QuotaStore = store
        aliases: AliasStore = store
        policies: PolicyStore = store
        events: EventStore = store
        plugin_store: PluginStore = store
        hook_jobs: HookJobStore = store
        quarantine: QuarantineStore = store
        plugin_models: PluginModelStore = store
        plugin_state: PluginStateStore = store
        outbound: OutboundQueue = store
        suppressions: SuppressionStore = store
        dkim_keys: DkimKeyStore = store
        sts_policies: MtaStsPolicyStore = store
        dmarc_reports: DmarcReportStore = store
        tls_reports: TlsReportStore = store
        metadata: MetadataStore = store
        for role, played in zip(
            (*ROLES, MetadataStore),
            (
                directory,
                queue,
                entries,
                backlog,
                secrets,
                tokens,
                audit,
                endpoints,
                outbox,
                folders,
                quotas,
                aliases,
                policies,
                events,
                plugin_store,
                hook_jobs,
                quarantine,
                plugin_models,
                plugin_state,
                outbound,
                suppressions,
                dkim_keys,
                sts_policies,
                dmarc_reports,
                tls_reports,
                metadata,
            ),
            strict=True,
        ):
            for name in _all_methods(role):
                declared = inspect.signature(getattr(role, name))
                implemented = inspect.signature(getattr(played, name))
                # The bound method has no self; the parameters must match by name and kind.
                wanted = [(p.name, p.kind) for p in declared.parameters.values()][1:]
                assert [(p.name, p.kind) for p in implemented.parameters.values()] == wanted, (
                    f"{role.__name__}.{name}"
                )
    finally:
        store.close()
