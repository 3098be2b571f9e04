"""Mailbox quotas: who may set a mailbox's limit, and what a mailbox's usage is.

A tenant admin sets the quota of mailboxes in their own tenant (the platform admin of
any); the mailbox is reached through the caller's scope, so another tenant's is a
NotFound. Anyone reads the usage of the mailboxes their scope holds. Usage is a counter
kept by the entry store, so reading it costs one row.
"""

from __future__ import annotations

from mairust.model.principal import Permission, Principal, Role
from mairust.model.quota import MailboxUsage
from mairust.services.access import require
from mairust.services.audit import AuditTrail
from mairust.storage.protocols import DirectoryStore, QuotaStore


class QuotaService:
    def __init__(
        self,
        directory: DirectoryStore,
        quotas: QuotaStore,
        audit: AuditTrail,
        default_quota_bytes: int = 0,
    ) -> None:
        self._directory = directory
        self._quotas = quotas
        self._audit = audit
        self.default_quota_bytes = default_quota_bytes

    def usage(self, principal: Principal, mailbox_id: str) -> MailboxUsage:
        """The quota and usage of a mailbox in the caller's scope; NotFound otherwise."""
        require(principal, Permission.READ)
        mailbox = self._directory.get_mailbox(principal.scope, mailbox_id)
        return MailboxUsage.of(mailbox, self.default_quota_bytes)

    def set_quota(
        self, principal: Principal, mailbox_id: str, quota_bytes: int | None
    ) -> MailboxUsage:
        """Set the mailbox's own quota (None: back to the default; 0: unlimited)."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        mailbox = self._quotas.set_mailbox_quota(principal.scope, mailbox_id, quota_bytes)
        self._audit.record(
            principal,
            "user.quota",
            mailbox.address,
            mailbox.tenant_id,
            {"quota_bytes": quota_bytes},
        )
        return MailboxUsage.of(mailbox, self.default_quota_bytes)
