"""Folders of a mailbox as the API shows them, and what a purge freed.

Folders are names on entries; a few are the system's own (every mailbox has them, they can
be neither renamed nor deleted).
"""

from __future__ import annotations

from dataclasses import dataclass

INBOX = "INBOX"
TRASH = "Trash"
JUNK = "Junk"
QUARANTINE = "Quarantine"
SYSTEM_FOLDERS = (INBOX, TRASH, JUNK)


@dataclass(frozen=True, slots=True)
class FolderCount:
    name: str
    total: int
    unread: int


@dataclass(frozen=True, slots=True)
class Purged:
    """What one purge removed: the entries, and the blob keys no message row names any
    more (the caller deletes those blobs, after the transaction, see MailboxService)."""

    entry_ids: tuple[str, ...]
    blob_keys: tuple[str, ...]
