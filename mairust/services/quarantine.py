"""Quarantine management: what hooks' ``quarantine`` verdicts hold, listed, released and
deleted, through the caller's scope.

Held mail is an entry in the ``Quarantine`` folder (the pipeline's ``store`` stage puts it
there, see ``mairust.model.annotations``). A user (or a token scoped to one mailbox) sees
and acts on their own mailbox's held mail; a tenant admin on the whole tenant's; another
tenant's entry is a NotFound (invariant 5). A release moves the entry to the folder the
message would have gone to (remembered at accept time; INBOX when none) and records a
``QuarantineReleased`` event in the tenant's event log in the same transaction, so webhooks
(``quarantine.released``) and plugins learn which holds were wrong; ``on_release`` is
told each release with the message's tags (the platform's teaches learning plugins, see
``mairust.services.plugin_training``). A delete purges the
entry for good and frees its blob like any purge (:class:`~mairust.services.purging.
BlobPurger`). An administrator's release or delete is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mairust.errors import Conflict
from mairust.events import Event, RecordType
from mairust.model.annotations import Annotations
from mairust.model.folders import QUARANTINE
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry
from mairust.model.principal import Permission, Principal, Role
from mairust.search.indexing import relabel_or_backlog
from mairust.services.access import require
from mairust.services.audit import AuditTrail
from mairust.services.mailboxes import MailboxService
from mairust.services.purging import BlobPurger
from mairust.storage.stores import Stores


@dataclass(frozen=True, slots=True)
class Held:
    """One held entry, and the folder a release would put it in."""

    entry: MailboxEntry
    release_to: str


@dataclass(frozen=True, slots=True)
class HeldPage:
    items: list[Held]
    next: str | None  # the cursor of the next page; None on the last


def _now() -> datetime:
    return datetime.now(UTC)


class QuarantineService:
    def __init__(
        self,
        stores: Stores,
        mailboxes: MailboxService,
        blob_grace: timedelta | None = None,
        audit: AuditTrail | None = None,
        clock: Callable[[], datetime] = _now,
        on_release: Callable[[MailboxEntry, Sequence[str]], None] | None = None,
    ) -> None:
        self._stores = stores
        self._mailboxes = mailboxes
        self._purger = BlobPurger(stores, blob_grace)
        self._audit = audit
        self._clock = clock
        self._on_release = on_release

    def page(
        self,
        principal: Principal,
        mailbox_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> HeldPage:
        """Held entries in the scope (one mailbox if given), newest first."""
        page = self._mailboxes.page(principal, mailbox_id, QUARANTINE, limit, before)
        notes = self._stores.metadata.message_annotations([e.message_id for e in page.items])
        items = [
            Held(entry, notes.get(entry.message_id, Annotations()).release_to())
            for entry in page.items
        ]
        return HeldPage(items, page.next)

    def release(self, principal: Principal, entry_id: str) -> MailboxEntry:
        """Moves the held entry to its folder and records the release; Conflict if the
        entry is not held (any more)."""
        require(principal, Permission.WRITE)
        metadata = self._stores.metadata
        entry = metadata.get_entry(principal.scope, entry_id)
        if entry.folder != QUARANTINE:
            raise Conflict(f"message {entry_id} is not in {QUARANTINE}")
        notes = metadata.message_annotations([entry.message_id])
        folder = notes.get(entry.message_id, Annotations()).release_to()
        event = Event(
            id=new_id(),
            tenant_id=entry.tenant_id,
            kind=RecordType.QUARANTINE_RELEASED,
            at=self._clock(),
            message_id=entry.message_id,
            header_message_id=entry.thread.message_id,
            recipient=entry.mailbox_address,
            detail={"entry_id": entry.id, "folder": folder, "released_by": principal.actor},
        )
        released = metadata.release_entry(principal.scope, entry_id, folder, event)
        relabel_or_backlog(self._stores, released)
        self._record(principal, "quarantine.release", released)
        if self._on_release is not None:
            held = notes.get(entry.message_id, Annotations())
            self._on_release(released, tuple(dict.fromkeys((*held.tags, *released.tags))))
        return released

    def delete(self, principal: Principal, entry_id: str) -> None:
        """Purges the held entry for good (its blob too when nothing else names it);
        Conflict if the entry is not held (any more)."""
        require(principal, Permission.WRITE)
        entry = self._stores.metadata.get_entry(principal.scope, entry_id)
        if entry.folder != QUARANTINE:
            raise Conflict(f"message {entry_id} is not in {QUARANTINE}")
        purged = self._purger.purge(principal.scope, [entry_id], QUARANTINE)
        if not purged.entry_ids:  # released (or deleted) since it was read
            raise Conflict(f"message {entry_id} is no longer in {QUARANTINE}")
        self._record(principal, "quarantine.delete", entry)

    def _record(self, principal: Principal, action: str, entry: MailboxEntry) -> None:
        """Audits an administrator's release or delete (a user acting on their own
        mailbox is not an administrative action), under the entry's tenant."""
        if self._audit is None or principal.role is Role.USER:
            return
        self._audit.record(principal, action, entry.id, entry.tenant_id, None)
