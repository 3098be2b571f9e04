"""``Application``: every service over one set of open stores, built once per process.

The API app, the CLI and (later) plugin callbacks each build one and call it; nothing
else constructs a service, so every entry point gets the same rules and the same audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mairust.secrets.vault import SecretVault
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.services.directory import DirectoryService
from mairust.services.events import EventService
from mairust.services.mailboxes import MailboxService
from mairust.services.queue import QueueService
from mairust.services.search import SearchService
from mairust.services.tokens import TokenService
from mairust.services.webhooks import UrlRules, WebhookService
from mairust.storage.stores import Stores


@dataclass(frozen=True)
class Application:
    audit: AuditTrail
    directory: DirectoryService
    tokens: TokenService
    mailboxes: MailboxService
    search: SearchService
    queue: QueueService
    events: EventService
    webhooks: WebhookService

    @classmethod
    def over(
        cls,
        stores: Stores,
        token_keys: Sequence[bytes],
        clock: Clock = utc_now,
        *,
        vault: SecretVault | None = None,
        webhook_urls: UrlRules | None = None,
    ) -> Application:
        """The services over ``stores``; ``token_keys`` key the API token digests (the
        current key first; see :meth:`mairust.secrets.keyring.Keyring.token_digest_keys`).
        ``vault`` keeps webhook signing secrets (None: endpoints cannot be created);
        ``webhook_urls`` says which endpoint URLs are accepted (default: public https)."""
        audit = AuditTrail(stores.metadata, clock)
        return cls(
            audit=audit,
            directory=DirectoryService(stores.metadata, audit),
            tokens=TokenService(stores.metadata, stores.metadata, audit, token_keys, clock),
            mailboxes=MailboxService(stores),
            search=SearchService(stores),
            queue=QueueService(stores.metadata),
            events=EventService(stores.metadata),
            webhooks=WebhookService(stores.metadata, vault, audit, webhook_urls or UrlRules()),
        )
