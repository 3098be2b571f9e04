"""Messages as they sit in mailboxes: entries, threads, flags, folders and purges.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from mairust.events import Event
from mairust.model.annotations import Annotations
from mairust.model.folders import FolderCount, Purged
from mairust.model.mailbox import (
    MailboxEntry,
    NewEntry,
    ThreadSummary,
)
from mairust.model.scope import Scope


class EntryStore(Protocol):
    """Mailbox entries: a message as it sits in one mailbox, with folder, tags, flags and
    its thread (by Message-ID, In-Reply-To and References; rule in mairust.model.threads)."""

    def store_entry(self, entry: NewEntry) -> MailboxEntry:
        """Insert the entry, or return the existing one for (mailbox_id, message_id)."""
        ...

    def store_entries(self, new_entries: Sequence[NewEntry]) -> list[MailboxEntry | None]:
        """``store_entry`` for many in ONE transaction, results in the order given; None
        where the mailbox is gone (or not the entry's tenant's) or the message is unknown.
        Each new entry joins, in that transaction, the thread of every entry of its mailbox
        it shares an id with (threads it links are merged into one)."""
        ...

    def get_entry(self, scope: Scope, entry_id: str) -> MailboxEntry:
        """NotFound if absent or owned by another tenant."""
        ...

    def get_entries(self, scope: Scope, entry_ids: Sequence[str]) -> list[MailboxEntry]:
        """Entries in the order of ``entry_ids``; ids outside the scope are left out."""
        ...

    def list_entries(
        self,
        scope: Scope,
        mailbox_id: str | None = None,
        folder: str | None = None,
        limit: int = 50,
        before: str | None = None,
        *,
        from_addr: str | None = None,
        tag: str | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        unread: bool | None = None,
        flagged: bool | None = None,
        auth: Mapping[str, str] | None = None,
        except_folder: str | None = None,
    ) -> list[MailboxEntry]:
        """Newest first; ``before`` is an entry id cursor (exclusive; NotFound when it is
        not an entry in the scope). Every filter given must hold: ``from_addr`` an address
        or ``@domain`` (case-insensitive); ``tag`` one of the entry's tags (exact);
        ``received_after`` <= received_at < ``received_before``; ``unread`` not seen (or
        seen, when False); ``flagged``; ``auth`` one word per method, keys from
        ``AUTH_FILTER_KEYS`` (``{"dmarc": "fail"}``; an unknown key is InvalidInput);
        ``except_folder`` leaves that folder's entries out."""
        ...

    def count_entries(self, scope: Scope) -> int:
        """Entries in the scope (all tenants for the admin scope)."""
        ...

    def count_entries_for_message(self, message_id: str) -> int: ...

    def set_tags(
        self, scope: Scope, entry_id: str, add: Sequence[str], remove: Sequence[str]
    ) -> MailboxEntry: ...

    def move_entry(self, scope: Scope, entry_id: str, folder: str) -> MailboxEntry: ...

    def set_flags(
        self,
        scope: Scope,
        entry_id: str,
        seen: bool | None = None,
        flagged: bool | None = None,
    ) -> MailboxEntry:
        """Set the flags given (None leaves one as it is); NotFound outside the scope."""
        ...

    def thread_of(self, scope: Scope, entry_id: str, limit: int = 1000) -> list[MailboxEntry]:
        """The entries of ``entry_id``'s thread in its mailbox, oldest first (at most
        ``limit``), the entry itself included; NotFound if it is not in the scope."""
        ...

    def list_threads(
        self,
        scope: Scope,
        mailbox_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[ThreadSummary]:
        """The threads in the scope, newest activity first, each with its newest entry
        and its size; ``before`` is the ``latest.id`` of the last thread of the previous
        page (exclusive)."""
        ...


class MailboxFolders(Protocol):
    """A mailbox's folders (names on entries, plus the empty ones a user created) and
    removing entries for good. Another tenant's mailbox or entry is NotFound."""

    def folder_counts(self, scope: Scope, mailbox_id: str) -> list[FolderCount]:
        """Every folder holding an entry or created empty, by name, with total and unseen."""
        ...

    def create_folder(self, scope: Scope, mailbox_id: str, name: str) -> None:
        """Conflict if it exists (created, or holding an entry)."""
        ...

    def rename_folder(self, scope: Scope, mailbox_id: str, old: str, new: str) -> list[str]:
        """Move every entry of ``old`` to ``new`` in one transaction; the entry ids moved.
        NotFound if ``old`` does not exist, Conflict if ``new`` does."""
        ...

    def delete_folder(self, scope: Scope, mailbox_id: str, name: str) -> None:
        """Forget an empty created folder; Conflict while it holds an entry."""
        ...

    def purge_entries(
        self, scope: Scope, entry_ids: Sequence[str], folder: str | None = None
    ) -> Purged:
        """Remove the entries in the scope (and ``folder``), and in the same transaction
        every message that no entry and no live queue row needs; the blob keys that no
        message row names any more (the caller deletes the blobs)."""
        ...

    def expired_entry_ids(self, folder: str, cutoff: datetime, limit: int = 500) -> list[str]:
        """Entries of every tenant that arrived in ``folder`` before ``cutoff``."""
        ...


class QuarantineStore(Protocol):
    """Held mail (folder Quarantine): where a release puts it, and the release."""

    def message_annotations(self, message_ids: Sequence[str]) -> dict[str, Annotations]:
        """The accept-time annotations of each message found (empty when it has none)."""
        ...

    def release_entry(self, scope: Scope, entry_id: str, folder: str, event: Event) -> MailboxEntry:
        """Move the entry from Quarantine to ``folder`` and append ``event``, in one
        transaction; NotFound outside the scope, Conflict when it is not in Quarantine."""
        ...
