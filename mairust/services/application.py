"""``Application``: every service over one set of open stores, built once per process.

The API app, the CLI and (later) plugin callbacks each build one and call it; nothing
else constructs a service, so every entry point gets the same rules and the same audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from mairust.auth.dns import Resolver
from mairust.config import DkimSettings, MailboxSettings
from mairust.hooks.callbacks import CallbackTokens
from mairust.hooks.deployment import PluginPackages
from mairust.hooks.runtime import HookRuntime
from mairust.outbound.dkim_signers import DkimSigners
from mairust.outbound.forwarding import Forwarder
from mairust.outbound.unsubscribe import UnsubscribeTokens
from mairust.regions import Regions
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.services.directory import DirectoryService
from mairust.services.dkim_keys import DkimKeyService
from mairust.services.dmarc_reports import DmarcReportService
from mairust.services.domain_dns import DomainDnsService
from mairust.services.events import EventService
from mairust.services.hook_callbacks import HookCallbackService
from mairust.services.mailboxes import MailboxService
from mairust.services.outbound_queue import OutboundQueueService
from mairust.services.plugin_secrets import PluginSecretService
from mairust.services.plugin_training import PluginTraining
from mairust.services.plugins import PluginService
from mairust.services.policy import PolicyDefaults, PolicyService
from mairust.services.quarantine import QuarantineService
from mairust.services.queue import QueueService
from mairust.services.quotas import QuotaService
from mairust.services.search import SearchService
from mairust.services.sending import SendPolicy, SendService
from mairust.services.suppressions import SuppressionService
from mairust.services.tokens import TokenService
from mairust.services.unsubscribe import UnsubscribeService
from mairust.services.webhooks import UrlRules, WebhookService
from mairust.spool import Spool
from mairust.storage.stores import Stores


@dataclass(frozen=True)
class Application:
    audit: AuditTrail
    directory: DirectoryService
    tokens: TokenService
    mailboxes: MailboxService
    search: SearchService
    queue: QueueService
    outbound: OutboundQueueService
    suppressions: SuppressionService
    quotas: QuotaService
    sending: SendService
    dns: DomainDnsService
    events: EventService
    webhooks: WebhookService
    policy: PolicyService
    plugins: PluginService
    plugin_secrets: PluginSecretService
    callbacks: HookCallbackService
    quarantine: QuarantineService
    training: PluginTraining
    dkim: DkimKeyService
    unsubscribe: UnsubscribeService
    dmarc_reports: DmarcReportService

    @classmethod
    def over(
        cls,
        stores: Stores,
        token_keys: Sequence[bytes],
        clock: Clock = utc_now,
        default_quota_bytes: int = 0,
        *,
        spool: Spool | None = None,
        send_policy: SendPolicy | None = None,
        mailbox: MailboxSettings | None = None,
        keyring: Keyring | None = None,
        resolver: Resolver | None = None,
        mx_host: str = "localhost",
        webhook_urls: UrlRules | None = None,
        policy_defaults: PolicyDefaults | None = None,
        hooks: HookRuntime | None = None,
        token_cache_seconds: float = 0.0,
        plugin_packages: PluginPackages | None = None,
        dkim_settings: DkimSettings | None = None,
        forwarder: Forwarder | None = None,
        regions: Regions | None = None,
    ) -> Application:
        """The services over ``stores``; ``token_keys`` key the API token digests (the
        current key first; see :meth:`mairust.secrets.keyring.Keyring.token_digest_keys`);
        ``default_quota_bytes`` is ``mailbox.default_quota_bytes`` (0: unlimited).

        ``spool`` is the running spool sends commit through (the API app starts and stops
        it); without one, a spool that is never started stands in and every send answers
        StorageUnavailable. ``send_policy`` defaults to the configuration's defaults.
        ``keyring`` seals the domains' DKIM keys and the webhook signing secrets (None:
        neither can be made), ``resolver`` serves the DNS checks and ``mx_host`` is the
        host name domains point their MX at; ``webhook_urls`` says which endpoint URLs are
        accepted (default: public https); ``policy_defaults`` is what a domain without its
        own policy gets (default: the configuration's defaults); ``hooks`` runs dry runs of hook
        points (None: they answer StorageUnavailable); ``token_cache_seconds`` lets the token
        service skip the store for a token found that recently (``api.token_cache_seconds``);
        ``plugin_packages`` keeps serve plugins' code (None: they cannot be installed);
        ``dkim_settings`` is ``[dkim]`` (the rotation's grace, the signers' cache, ``x=``);
        ``forwarder`` makes what the send API forwards off the platform SRS-rewritten and
        ARC-sealed as at SMTP (None: such recipients are a 422); ``regions`` is the regions
        config (tenants' home regions are checked against it; tokens name this region)."""
        audit = AuditTrail(stores.metadata, clock)
        if spool is None:
            spool = Spool(stores.metadata, stores.blobs)
        if send_policy is None:
            send_policy = SendPolicy.defaults()
        directory = DirectoryService(stores.metadata, audit, regions)
        vault = SecretVault(stores.metadata, keyring) if keyring is not None else None
        mailboxes = MailboxService(stores, mailbox, audit=audit)
        training = PluginTraining(stores, audit, plugin_packages, clock)
        dkim_settings = dkim_settings or DkimSettings()
        unsubscribe_tokens = UnsubscribeTokens.from_digest_keys(token_keys)
        dkim = DkimKeyService(
            directory,
            stores.metadata,
            vault,
            audit,
            clock,
            grace=timedelta(days=dkim_settings.rotation_grace_days),
            signers=(
                DkimSigners.from_settings(stores.metadata, vault, dkim_settings, clock)
                if vault is not None
                else None
            ),
        )
        return cls(
            audit=audit,
            directory=directory,
            tokens=TokenService(
                stores.metadata,
                stores.metadata,
                audit,
                token_keys,
                clock,
                cache_seconds=token_cache_seconds,
                region=regions.local if regions is not None else None,
            ),
            mailboxes=mailboxes,
            search=SearchService(stores, token_keys),
            queue=QueueService(stores.metadata),
            outbound=OutboundQueueService(stores.metadata, audit, clock),
            suppressions=SuppressionService(stores.metadata, audit, clock),
            quotas=QuotaService(stores.metadata, stores.metadata, audit, default_quota_bytes),
            sending=SendService(
                stores.metadata,
                spool,
                send_policy,
                clock,
                hooks=hooks,
                suppressions=stores.metadata,
                signer_for=dkim.signer_for,
                unsubscribe_tokens=unsubscribe_tokens,
                forwarder=forwarder,
            ),
            dns=DomainDnsService(directory, dkim, resolver, mx_host),
            events=EventService(stores.metadata),
            webhooks=WebhookService(stores.metadata, vault, audit, webhook_urls or UrlRules()),
            policy=PolicyService(
                stores.metadata, directory, audit, policy_defaults or PolicyDefaults()
            ),
            plugins=PluginService(stores.metadata, audit, clock, hooks, plugin_packages),
            plugin_secrets=PluginSecretService(stores.metadata, vault, audit, clock),
            # Plugins' later verdicts on post_receive jobs, with tokens keyed from the
            # same digest keys the job loop signs with.
            callbacks=HookCallbackService(
                stores.metadata, CallbackTokens.from_digest_keys(token_keys)
            ),
            # A release teaches the learning plugins that tagged the message.
            quarantine=QuarantineService(
                stores,
                mailboxes,
                audit=audit,
                clock=clock,
                on_release=training.learn_from_release,
            ),
            training=training,
            dkim=dkim,
            unsubscribe=UnsubscribeService(stores.metadata, unsubscribe_tokens, clock),
            dmarc_reports=DmarcReportService(directory, stores.metadata),
        )
