"""Messages as they sit in mailboxes: list (with filters), read, download, tag, flag, move,
delete to Trash and purge; folders; threads; Trash and Junk retention.

Every call goes through the caller's scope, so another tenant's entry (or, for a user,
another mailbox's) is a NotFound. Tagging and moving update the entry's labels in the
search index in place (the blob is not read again); when search is down the entry waits
in the durable search backlog and the change still succeeds (the metadata store is the
truth, the indexer catches up).

Folders are names on entries. INBOX, Trash, Junk and Quarantine belong to every mailbox and
can be neither renamed nor deleted; another folder can be deleted only when empty (Conflict
otherwise: the client moves or deletes its messages first, so nothing goes away unasked).
Purging and its blobs are in :mod:`mairust.services.purging`. Quarantine holds what hooks
held back: a listing without a folder leaves it out, and an entry leaves it only through
:mod:`mairust.services.quarantine` (release or delete), so every release is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mairust.config import MailboxSettings
from mairust.errors import Conflict, InvalidInput, NotFound
from mairust.model.attachments import Attachment, attachment_of
from mairust.model.folders import JUNK, QUARANTINE, SYSTEM_FOLDERS, TRASH, FolderCount
from mairust.model.hook_jobs import notes_for
from mairust.model.mailbox import MailboxEntry, ThreadSummary
from mairust.model.parsing import ParsedMessage, parse_message
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import PLATFORM
from mairust.search.indexing import relabel_or_backlog
from mairust.services.access import require
from mairust.services.audit import AuditTrail
from mairust.services.purging import BlobPurger, ExpiryReport
from mairust.storage.stores import Stores

MAX_TAGS = 50
BATCH = 500  # entries per expiry round and per relabelling read


@dataclass(frozen=True, slots=True)
class EntryPage:
    items: list[MailboxEntry]
    next: str | None  # the cursor of the next page; None on the last


@dataclass(frozen=True, slots=True)
class ThreadPage:
    items: list[ThreadSummary]
    next: str | None  # the ``latest.id`` of the last thread; None on the last page


@dataclass(frozen=True, slots=True)
class EntryFilters:
    """What a listing may be narrowed to; None (or empty) leaves a filter out."""

    from_addr: str | None = None  # an address, or @domain
    tag: str | None = None
    received_after: datetime | None = None  # inclusive
    received_before: datetime | None = None  # exclusive
    unread: bool | None = None
    flagged: bool | None = None
    auth: dict[str, str] | None = None  # {"dmarc": "fail"}


@dataclass(frozen=True, slots=True)
class Deleted:
    """What a delete did: moved the entry to Trash (``entry`` as it is now), or purged it."""

    entry: MailboxEntry | None
    purged: bool


class MailboxService:
    def __init__(
        self,
        stores: Stores,
        settings: MailboxSettings | None = None,
        blob_grace: timedelta | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        self._stores = stores
        self._audit = audit
        self._settings = settings or MailboxSettings()
        self._purger = BlobPurger(stores, blob_grace)

    # -- listing and reading ------------------------------------------------------------

    def page(
        self,
        principal: Principal,
        mailbox_id: str | None = None,
        folder: str | None = None,
        limit: int = 50,
        before: str | None = None,
        filters: EntryFilters | None = None,
    ) -> EntryPage:
        """A page of entries, newest first; ``mailbox_id`` must be in the scope."""
        require(principal, Permission.READ)
        wanted = filters or EntryFilters()
        after, until = wanted.received_after, wanted.received_before
        for moment, name in ((after, "received_after"), (until, "received_before")):
            # A time without a zone means a different instant to every reader: refused.
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput(f"{name!r} needs a time zone (e.g. 'Z' or '+01:00')")
        if after is not None and until is not None and after >= until:
            raise InvalidInput("'received_after' must be earlier than 'received_before'")
        # One row more than asked tells whether another page exists without a count.
        try:
            found = self._stores.metadata.list_entries(
                principal.scope,
                mailbox_id=mailbox_id,
                folder=folder,
                limit=limit + 1,
                before=before,
                from_addr=wanted.from_addr,
                tag=wanted.tag,
                received_after=after,
                received_before=until,
                unread=wanted.unread,
                flagged=wanted.flagged,
                auth=wanted.auth,
                # Held mail is not the user's mail until released: listed only by name.
                except_folder=QUARANTINE if folder is None else None,
            )
        except NotFound as exc:
            # An unknown mailbox is a 404 before an unknown cursor is bad input.
            self._check_mailbox(principal, mailbox_id)
            raise InvalidInput("'before' is not a cursor from a previous page") from exc
        if not found:
            # Entries come back through the scope, so one entry of the mailbox proves the
            # mailbox is in it: only an empty page needs the mailbox looked up (a list
            # then costs one transaction, not two).
            self._check_mailbox(principal, mailbox_id)
        page = found[:limit]
        return EntryPage(page, page[-1].id if len(found) > limit else None)

    def _check_mailbox(self, principal: Principal, mailbox_id: str | None) -> None:
        """NotFound when ``mailbox_id`` is given and not in the caller's scope."""
        if mailbox_id is not None:
            self._stores.metadata.get_mailbox(principal.scope, mailbox_id)

    def get(self, principal: Principal, entry_id: str) -> MailboxEntry:
        require(principal, Permission.READ)
        return self._stores.metadata.get_entry(principal.scope, entry_id)

    def entries(self, principal: Principal, entry_ids: Sequence[str]) -> list[MailboxEntry]:
        """Those of ``entry_ids`` in the scope, in the order given (others left out)."""
        require(principal, Permission.READ)
        return self._stores.metadata.get_entries(principal.scope, entry_ids)

    def read(self, principal: Principal, entry_id: str) -> tuple[MailboxEntry, ParsedMessage]:
        entry = self.get(principal, entry_id)
        return entry, parse_message(self._stores.blobs.get(entry.blob_key))

    def notes(self, entry: MailboxEntry) -> dict[str, dict[str, str]]:
        """The ``post_receive`` plugins' notes on ``entry`` (read through the caller's
        scope already), by plugin name: see :func:`~mairust.model.hook_jobs.notes_for`."""
        jobs = self._stores.metadata.list_hook_jobs(entry.message_id)
        return notes_for(jobs, entry.tenant_id, entry.mailbox_address)

    def raw(self, principal: Principal, entry_id: str) -> tuple[MailboxEntry, bytes]:
        entry = self.get(principal, entry_id)
        return entry, self._stores.blobs.get(entry.blob_key)

    def attachment(self, principal: Principal, entry_id: str, index: int) -> Attachment:
        """Attachment ``index`` (from 0, as the message detail lists them), decoded."""
        _, raw = self.raw(principal, entry_id)
        return attachment_of(raw, index)

    def threads(
        self,
        principal: Principal,
        mailbox_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> ThreadPage:
        """Threads in the scope, newest activity first."""
        require(principal, Permission.READ)
        if mailbox_id is not None:
            self._stores.metadata.get_mailbox(principal.scope, mailbox_id)
        try:
            found = self._stores.metadata.list_threads(
                principal.scope, mailbox_id=mailbox_id, limit=limit + 1, before=before
            )
        except NotFound as exc:
            raise InvalidInput("'before' is not a cursor from a previous page") from exc
        page = found[:limit]
        return ThreadPage(page, page[-1].latest.id if len(found) > limit else None)

    def thread(self, principal: Principal, entry_id: str) -> list[MailboxEntry]:
        """The thread of ``entry_id`` in its mailbox, oldest first."""
        require(principal, Permission.READ)
        return self._stores.metadata.thread_of(principal.scope, entry_id)

    # -- changing one message -----------------------------------------------------------

    def tag(
        self, principal: Principal, entry_id: str, add: Sequence[str], remove: Sequence[str]
    ) -> MailboxEntry:
        """Adds ``add`` and removes ``remove``; at most MAX_TAGS on a message."""
        require(principal, Permission.WRITE)
        metadata = self._stores.metadata
        both = set(add) & set(remove)
        if both:
            raise InvalidInput(f"tags both added and removed: {', '.join(sorted(both))}")
        if add:
            # Checked before writing so a refused update changes nothing (invariant 7).
            current = metadata.get_entry(principal.scope, entry_id)
            if len((set(current.tags) | set(add)) - set(remove)) > MAX_TAGS:
                raise InvalidInput(f"a message carries at most {MAX_TAGS} tags")
        entry = metadata.set_tags(principal.scope, entry_id, add=add, remove=remove)
        relabel_or_backlog(self._stores, entry)
        return entry

    def flag(
        self,
        principal: Principal,
        entry_id: str,
        seen: bool | None = None,
        flagged: bool | None = None,
    ) -> MailboxEntry:
        """Sets the flags given (None leaves one as it is)."""
        require(principal, Permission.WRITE)
        return self._stores.metadata.set_flags(
            principal.scope, entry_id, seen=seen, flagged=flagged
        )

    def move(self, principal: Principal, entry_id: str, folder: str) -> MailboxEntry:
        """Moves the entry; Conflict for a held one (a release or a delete of the
        quarantine takes it out, and is recorded)."""
        require(principal, Permission.WRITE)
        if self._stores.metadata.get_entry(principal.scope, entry_id).folder == QUARANTINE:
            raise Conflict(f"the message is held in {QUARANTINE}: release or delete it there")
        entry = self._stores.metadata.move_entry(principal.scope, entry_id, folder)
        relabel_or_backlog(self._stores, entry)
        return entry

    def delete(self, principal: Principal, entry_id: str, purge: bool = False) -> Deleted:
        """Moves the entry to Trash; with ``purge``, removes an entry already in Trash for
        good (Conflict for one elsewhere: it goes to Trash first, so one call never
        destroys mail that was not deleted once already)."""
        require(principal, Permission.WRITE)
        if not purge:
            return Deleted(self.move(principal, entry_id, TRASH), purged=False)
        entry = self._stores.metadata.get_entry(principal.scope, entry_id)
        if entry.folder != TRASH:
            raise Conflict("only a message in Trash can be purged; delete it once first")
        purged = self._purger.purge(principal.scope, [entry_id], TRASH)
        if not purged.entry_ids:  # moved out of Trash (or purged) since it was read
            raise Conflict("the message is no longer in Trash")
        self._record(principal, "message.purge", entry.id, entry.mailbox_id)
        return Deleted(None, purged=True)

    # -- folders --------------------------------------------------------------------------

    def folders(self, principal: Principal, mailbox_id: str) -> list[FolderCount]:
        """Every folder of the mailbox with its counts, the system folders always."""
        require(principal, Permission.READ)
        counts = {
            folder.name: folder
            for folder in self._stores.metadata.folder_counts(principal.scope, mailbox_id)
        }
        for name in SYSTEM_FOLDERS:
            counts.setdefault(name, FolderCount(name, 0, 0))
        return sorted(counts.values(), key=_folder_order)

    def create_folder(self, principal: Principal, mailbox_id: str, name: str) -> FolderCount:
        require(principal, Permission.WRITE)
        if _is_system(name):
            raise Conflict(f"{name!r} is a system folder; it always exists")
        self._stores.metadata.create_folder(principal.scope, mailbox_id, name)
        return FolderCount(name, 0, 0)

    def rename_folder(self, principal: Principal, mailbox_id: str, old: str, new: str) -> int:
        """Renames ``old`` to ``new`` with every entry in it; how many entries moved."""
        require(principal, Permission.WRITE)
        for name in (old, new):
            if _is_system(name):
                raise Conflict(f"{name!r} is a system folder; it cannot be renamed")
        moved = self._stores.metadata.rename_folder(principal.scope, mailbox_id, old, new)
        self._record(principal, "folder.rename", f"{mailbox_id}/{old}", mailbox_id, new)
        # The index learns the new name entry by entry (or from the backlog if it is down).
        for start in range(0, len(moved), BATCH):
            chunk = moved[start : start + BATCH]
            for entry in self._stores.metadata.get_entries(principal.scope, chunk):
                relabel_or_backlog(self._stores, entry)
        return len(moved)

    def delete_folder(self, principal: Principal, mailbox_id: str, name: str) -> None:
        """Deletes an empty folder (Conflict while it holds a message)."""
        require(principal, Permission.WRITE)
        if _is_system(name):
            raise Conflict(f"{name!r} is a system folder; it cannot be deleted")
        self._stores.metadata.delete_folder(principal.scope, mailbox_id, name)
        self._record(principal, "folder.delete", f"{mailbox_id}/{name}", mailbox_id)

    # -- retention ------------------------------------------------------------------------

    def expire(
        self, now: datetime, progress: Callable[[str, int], None] | None = None
    ) -> ExpiryReport:
        """Purges Trash and Junk entries of every tenant past ``mailbox.trash_days`` and
        ``mailbox.junk_days`` (0: kept for ever); ``progress(folder, purged)`` after each
        batch. For the retention loop and the operator's CLI: no caller principal."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        purged = {TRASH: 0, JUNK: 0}
        blobs = 0
        for folder, days in ((TRASH, self._settings.trash_days), (JUNK, self._settings.junk_days)):
            if days <= 0:
                continue
            cutoff = now.astimezone(UTC) - timedelta(days=days)
            while ids := self._stores.metadata.expired_entry_ids(folder, cutoff, BATCH):
                done = self._purger.purge(PLATFORM, ids, folder)
                purged[folder] += len(done.entry_ids)
                blobs += done.blobs_deleted
                if progress is not None:
                    progress(folder, purged[folder])
                if not done.entry_ids:  # every one moved away meanwhile: look again later
                    break
        return ExpiryReport(trash=purged[TRASH], junk=purged[JUNK], blobs_deleted=blobs)

    def _record(
        self,
        principal: Principal,
        action: str,
        target: str,
        mailbox_id: str,
        renamed_to: str | None = None,
    ) -> None:
        """Audits what an admin or tenant admin destroyed or renamed in a mailbox (a user
        acting on their own mailbox is not an administrative action), under the mailbox's
        tenant, so that tenant's admins see the operator's actions too."""
        if self._audit is None or principal.role is Role.USER:
            return
        tenant_id = self._stores.metadata.get_mailbox(principal.scope, mailbox_id).tenant_id
        details = {"to": renamed_to} if renamed_to is not None else None
        self._audit.record(principal, action, target, tenant_id, details)


def _is_system(name: str) -> bool:
    # IMAP treats INBOX case-insensitively; so do we, so "inbox" cannot shadow it.
    return name.casefold() in {folder.casefold() for folder in SYSTEM_FOLDERS}


def _folder_order(folder: FolderCount) -> tuple[int, str]:
    system = SYSTEM_FOLDERS.index(folder.name) if folder.name in SYSTEM_FOLDERS else 99
    return (system, folder.name)
