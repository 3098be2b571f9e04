"""Folders of a mailbox as the API shows them, and what a purge freed.

Folders are names on entries; a few are the system's own (every mailbox has them, they can
be neither renamed nor deleted). ``Quarantine`` holds what a hook's ``quarantine`` verdict
kept away from the mailbox: listings without a folder leave it out (held mail is not the
user's mail until released), it is listed when asked for by name, and an entry leaves it
only by a release or a delete (``mairust.services.quarantine``), never by a plain move.
"""

from __future__ import annotations

from dataclasses import dataclass

INBOX = "INBOX"
TRASH = "Trash"
JUNK = "Junk"
QUARANTINE = "Quarantine"
SYSTEM_FOLDERS = (INBOX, TRASH, JUNK, QUARANTINE)


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
