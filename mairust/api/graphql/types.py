"""The GraphQL object and input types, and how each is built from the core's values.

Field names follow the REST schema (``from``, ``to``, ``mailbox``) in GraphQL's camelCase;
every id a client may pass back is an ``ID`` (a test walks the schema for ID arguments).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, TypedDict

import strawberry

from mairust.auth.results import AuthResults
from mairust.model.directory import Mailbox as CoreMailbox
from mairust.model.mailbox import MailboxEntry
from mairust.model.mailbox import ThreadSummary as CoreThreadSummary
from mairust.model.parsing import ParsedMessage
from mairust.services.quarantine import Held


@strawberry.type(description="A mailbox (a user) in the caller's scope.")
class Mailbox:
    id: strawberry.ID
    address: str
    role: str

    @classmethod
    def of(cls, mailbox: CoreMailbox) -> Mailbox:
        return cls(id=strawberry.ID(mailbox.id), address=mailbox.address, role=mailbox.role.value)


class FolderCounts(Protocol):
    """What MailboxService.folders lists (any value with these fields will do)."""

    @property
    def name(self) -> str: ...
    @property
    def total(self) -> int: ...
    @property
    def unread(self) -> int: ...


@strawberry.type(description="A folder of a mailbox, with its message counts.")
class Folder:
    name: str
    total: int
    unread: int

    @classmethod
    def of(cls, folder: FolderCounts) -> Folder:
        return cls(name=folder.name, total=folder.total, unread=folder.unread)


@strawberry.type(description="One RFC 8601 result word per method, when the message was checked.")
class AuthSummary:
    spf: str | None
    dkim: str | None
    dmarc: str | None
    arc: str | None


@strawberry.type(description="A message as it sits in one mailbox.")
class Message:
    id: strawberry.ID = strawberry.field(description="The mailbox entry id.")
    mailbox_id: strawberry.ID
    mailbox: str = strawberry.field(description="Address of the mailbox holding the entry.")
    message_id: str = strawberry.field(description="Id of the stored message.")
    from_: str = strawberry.field(name="from")
    to: list[str]
    subject: str
    date: datetime | None
    received_at: datetime
    size: int
    folder: str
    tags: list[str]
    seen: bool
    flagged: bool
    thread_id: strawberry.ID
    auth: AuthSummary | None

    @classmethod
    def of(cls, entry: MailboxEntry) -> Message:
        return cls(**_message_fields(entry))


@strawberry.type
class Header:
    name: str
    value: str


@strawberry.type
class Attachment:
    filename: str
    content_type: str
    size: int = strawberry.field(description="Decoded size in bytes.")


@strawberry.type(description="A message held in Quarantine by a hook's quarantine verdict.")
class HeldMessage(Message):
    release_to: str = strawberry.field(description="The folder a release puts it in.")

    @classmethod
    def of_held(cls, held: Held) -> HeldMessage:
        return cls(**_message_fields(held.entry), release_to=held.release_to)


@strawberry.type
class HeldPage:
    items: list[HeldMessage]
    next: strawberry.ID | None = strawberry.field(
        description="Cursor of the next (older) page, to pass as `after`; null at the end."
    )


@strawberry.type
class Note:
    name: str
    text: str


@strawberry.type(description="What one post_receive plugin noted about the message.")
class PluginNotes:
    plugin: str
    notes: list[Note]


@strawberry.type(description="A message with its headers, readable bodies and attachments.")
class MessageDetail(Message):
    headers: list[Header]
    text: str | None = strawberry.field(description="The first text/plain part.")
    html: str | None = strawberry.field(description="The first text/html part.")
    attachments: list[Attachment]
    notes: list[PluginNotes] = strawberry.field(
        description="Notes kept by post_receive plugins (a summary, a language), by plugin."
    )

    @classmethod
    def read(
        cls,
        entry: MailboxEntry,
        parsed: ParsedMessage,
        notes: Mapping[str, Mapping[str, str]],
    ) -> MessageDetail:
        return cls(
            **_message_fields(entry),
            headers=[Header(name=name, value=value) for name, value in parsed.headers],
            text=parsed.text,
            html=parsed.html,
            attachments=[
                Attachment(filename=a.filename, content_type=a.content_type, size=a.size)
                for a in parsed.attachments
            ],
            notes=[
                PluginNotes(
                    plugin=plugin,
                    notes=[Note(name=name, text=text) for name, text in sorted(kept.items())],
                )
                for plugin, kept in sorted(notes.items())
            ],
        )


@strawberry.type
class MessagePage:
    items: list[Message]
    next: strawberry.ID | None = strawberry.field(
        description="Cursor of the next (older) page, to pass as `after`; null at the end."
    )


@strawberry.type(description="One thread of a mailbox: its newest message and its size.")
class ThreadSummary:
    thread_id: strawberry.ID
    latest: Message
    count: int

    @classmethod
    def of(cls, summary: CoreThreadSummary) -> ThreadSummary:
        return cls(
            thread_id=strawberry.ID(summary.thread_id),
            latest=Message.of(summary.latest),
            count=summary.count,
        )


@strawberry.type
class ThreadPage:
    items: list[ThreadSummary]
    next: strawberry.ID | None = strawberry.field(
        description="Cursor of the next page, to pass as `after`; null at the end."
    )


@strawberry.type(description="The messages of one thread in one mailbox, oldest first.")
class Thread:
    id: strawberry.ID
    messages: list[Message]


@strawberry.type
class SearchResult:
    message: Message
    score: float
    snippet: str


@strawberry.type
class SearchPage:
    items: list[SearchResult]
    next: strawberry.ID | None = strawberry.field(
        description="Cursor of the next page, to pass as `after` with the same `query` and "
        "`mailboxId`; null at the end."
    )


@strawberry.input(description='One result word per method, e.g. `{dmarc: "fail"}`.')
class AuthFilter:
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    arc: str | None = None

    def words(self) -> dict[str, str]:
        given = {"spf": self.spf, "dkim": self.dkim, "dmarc": self.dmarc, "arc": self.arc}
        return {method: word for method, word in given.items() if word is not None}


@strawberry.input(description="Every filter given must hold (the REST listing's filters).")
class MessageFilter:
    folder: str | None = None
    tag: str | None = None
    from_: str | None = strawberry.field(
        name="from", default=None, description="An address, or `@domain` for all its senders."
    )
    received_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    received_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    unread: bool | None = None
    flagged: bool | None = None
    auth: AuthFilter | None = None


class _MessageFields(TypedDict):
    id: strawberry.ID
    mailbox_id: strawberry.ID
    mailbox: str
    message_id: str
    from_: str
    to: list[str]
    subject: str
    date: datetime | None
    received_at: datetime
    size: int
    folder: str
    tags: list[str]
    seen: bool
    flagged: bool
    thread_id: strawberry.ID
    auth: AuthSummary | None


def _message_fields(entry: MailboxEntry) -> _MessageFields:
    words = AuthResults.from_json(entry.auth_results).summary_words() if entry.auth_results else {}
    return {
        "id": strawberry.ID(entry.id),
        "mailbox_id": strawberry.ID(entry.mailbox_id),
        "mailbox": entry.mailbox_address,
        "message_id": entry.message_id,
        "from_": entry.from_addr,
        "to": list(entry.to_addrs),
        "subject": entry.subject,
        "date": entry.date,
        "received_at": entry.received_at,
        "size": entry.size,
        "folder": entry.folder,
        "tags": sorted(entry.tags),
        "seen": entry.seen,
        "flagged": entry.flagged,
        "thread_id": strawberry.ID(entry.thread_id),
        "auth": AuthSummary(
            spf=words.get("spf"),
            dkim=words.get("dkim"),
            dmarc=words.get("dmarc"),
            arc=words.get("arc"),
        )
        if entry.auth_results
        else None,
    }
