"""Messages as they sit in mailboxes: list, read, download, tag, flag, move, trash, their
threads and folders.

Every call goes through the caller's scope, so another tenant's entry (or, for a user,
another mailbox's) is a NotFound. Tagging and moving update the entry's labels in the
search index in place (the blob is not read again); when search is down the entry waits
in the durable search backlog and the change still succeeds (the metadata store is the
truth, the indexer catches up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mairust.errors import InvalidInput, NotFound
from mairust.model.mailbox import FolderSummary, MailboxEntry, ThreadSummary
from mairust.model.parsing import ParsedMessage, parse_message
from mairust.model.principal import Permission, Principal
from mairust.search.indexing import relabel_or_backlog
from mairust.services.access import require
from mairust.storage.stores import Stores

MAX_TAGS = 50
# Where a deleted message goes (purging it from there is a separate, later step).
TRASH_FOLDER = "Trash"


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
    """What a delete did: moved the entry to Trash (``entry`` as it is now)."""

    entry: MailboxEntry | None
    purged: bool


class MailboxService:
    def __init__(self, stores: Stores) -> None:
        self._stores = stores

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
        if after is not None and until is not None and after >= until:
            raise InvalidInput("'received_after' must be earlier than 'received_before'")
        if mailbox_id is not None:
            self._stores.metadata.get_mailbox(principal.scope, mailbox_id)
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
            )
        except NotFound as exc:
            # The mailbox was checked above, so only the cursor can be unknown: bad input.
            raise InvalidInput("'before' is not a cursor from a previous page") from exc
        page = found[:limit]
        return EntryPage(page, page[-1].id if len(found) > limit else None)

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

    def raw(self, principal: Principal, entry_id: str) -> tuple[MailboxEntry, bytes]:
        entry = self.get(principal, entry_id)
        return entry, self._stores.blobs.get(entry.blob_key)

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

    def move(self, principal: Principal, entry_id: str, folder: str) -> MailboxEntry:
        require(principal, Permission.WRITE)
        entry = self._stores.metadata.move_entry(principal.scope, entry_id, folder)
        relabel_or_backlog(self._stores, entry)
        return entry

    def flag(
        self,
        principal: Principal,
        entry_id: str,
        seen: bool | None = None,
        flagged: bool | None = None,
    ) -> MailboxEntry:
        """Sets the flags given (None leaves one as it is). Flags are not search labels,
        so the index is not touched."""
        require(principal, Permission.WRITE)
        return self._stores.metadata.set_flags(
            principal.scope, entry_id, seen=seen, flagged=flagged
        )

    def delete(self, principal: Principal, entry_id: str) -> Deleted:
        """Deletes the way a mail client does: the entry moves to the Trash folder."""
        return Deleted(self.move(principal, entry_id, TRASH_FOLDER), purged=False)

    def thread(self, principal: Principal, entry_id: str) -> list[MailboxEntry]:
        """The entries of ``entry_id``'s thread in its mailbox, oldest first."""
        require(principal, Permission.READ)
        return self._stores.metadata.thread_of(principal.scope, entry_id)

    def threads(
        self,
        principal: Principal,
        mailbox_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> ThreadPage:
        """A page of threads, newest activity first; ``mailbox_id`` must be in the scope."""
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

    def folders(self, principal: Principal, mailbox_id: str) -> list[FolderSummary]:
        """The folders of a mailbox in the scope, as its entries name them."""
        require(principal, Permission.READ)
        self._stores.metadata.get_mailbox(principal.scope, mailbox_id)
        return self._stores.metadata.folder_summaries(principal.scope, mailbox_id)
