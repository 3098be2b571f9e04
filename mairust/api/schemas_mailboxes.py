"""Request and response bodies of the folder, flag, delete and thread routes (pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mairust.api.schemas import FolderName, MessageSummary
from mairust.model.folders import FolderCount
from mairust.model.mailbox import MailboxEntry, ThreadSummary


class FlagUpdate(BaseModel):
    """The flags to set; a flag left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    seen: bool | None = None
    flagged: bool | None = None


class FolderInfo(BaseModel):
    name: str
    total: int = Field(description="Messages in the folder.")
    unread: int = Field(description="Of those, not seen.")
    system: bool = Field(description="INBOX, Trash and Junk: never renamed or deleted.")

    @classmethod
    def from_count(cls, folder: FolderCount, system: bool) -> FolderInfo:
        return cls(name=folder.name, total=folder.total, unread=folder.unread, system=system)


class FolderList(BaseModel):
    items: list[FolderInfo]


class NewFolder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FolderName


class FolderRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FolderName = Field(description="The new name.")


class FolderRenamed(BaseModel):
    name: str
    moved: int = Field(description="Messages that moved with the folder.")


class ThreadItem(BaseModel):
    thread_id: str
    count: int = Field(description="Messages in the thread (this mailbox).")
    latest: MessageSummary = Field(description="The thread's newest message.")

    @classmethod
    def from_summary(cls, thread: ThreadSummary) -> ThreadItem:
        return cls(
            thread_id=thread.thread_id,
            count=thread.count,
            latest=MessageSummary.from_entry(thread.latest),
        )


class ThreadPage(BaseModel):
    items: list[ThreadItem]
    next: str | None = Field(description="Pass as `before` for the next page; null at the end.")


class ThreadView(BaseModel):
    thread_id: str
    items: list[MessageSummary] = Field(description="The thread's messages, oldest first.")

    @classmethod
    def from_entries(cls, entries: list[MailboxEntry]) -> ThreadView:
        return cls(
            thread_id=entries[0].thread_id if entries else "",
            items=[MessageSummary.from_entry(entry) for entry in entries],
        )
