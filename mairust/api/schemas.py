"""Request and response bodies of the REST API (pydantic), built from the core's value types.

The API's JSON field names are chosen for clients (``from``, ``to``, ``mailbox``),
so each response model has a ``from_*`` constructor that maps a core value to it.
Validation rules for what clients may write (tags, folder names) live here too.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from mairust.auth.results import AuthResults
from mairust.model.directory import Domain, Mailbox
from mairust.model.mailbox import MailboxEntry
from mairust.model.parsing import ParsedMessage
from mairust.model.queue import QueueItem, QueueState
from mairust.services.mailboxes import MAX_TAGS

MailboxRole = Literal["user", "tenant_admin"]
MAX_TAG_LENGTH = 64
MAX_FOLDER_LENGTH = 255
# IMAP LIST wildcards: a folder named with them could never be listed unambiguously.
_FOLDER_FORBIDDEN = frozenset("*%")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def _check_tag(value: str) -> str:
    if any(char.isspace() or _is_control(char) for char in value):
        raise ValueError("a tag may not contain whitespace or control characters")
    return value


def _check_folder(value: str) -> str:
    if value != value.strip():
        raise ValueError("a folder name may not start or end with whitespace")
    if any(_is_control(char) for char in value):
        raise ValueError("a folder name may not contain control characters")
    if _FOLDER_FORBIDDEN.intersection(value):
        raise ValueError("a folder name may not contain '*' or '%'")
    if any(not part for part in value.split("/")):
        raise ValueError("a folder name may not have empty '/'-separated parts")
    return value


Tag = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TAG_LENGTH, examples=["invoice"]),
    AfterValidator(_check_tag),
]
FolderName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_FOLDER_LENGTH, examples=["Archive"]),
    AfterValidator(_check_folder),
]


class MessageSummary(BaseModel):
    """One message as it sits in one mailbox."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(description="The mailbox entry id (one per message and mailbox).")
    mailbox: str = Field(description="Address of the mailbox holding the entry.")
    message_id: str = Field(description="Id of the stored message (shared by recipients).")
    from_: str = Field(alias="from", description="Sender address from the From header.")
    to: list[str] = Field(description="Recipient addresses from the To and Cc headers.")
    subject: str
    date: datetime | None = Field(description="The Date header, if it parsed.")
    received_at: datetime
    size: int = Field(description="Size of the raw message in bytes.")
    folder: str
    tags: list[str]
    seen: bool = Field(default=False, description="Read by the mailbox's owner.")
    flagged: bool = Field(default=False, description="Marked for attention.")

    @classmethod
    def from_entry(cls, entry: MailboxEntry) -> MessageSummary:
        return cls(
            id=entry.id,
            mailbox=entry.mailbox_address,
            message_id=entry.message_id,
            from_=entry.from_addr,
            to=list(entry.to_addrs),
            subject=entry.subject,
            date=entry.date,
            received_at=entry.received_at,
            size=entry.size,
            folder=entry.folder,
            tags=sorted(entry.tags),
            seen=entry.seen,
            flagged=entry.flagged,
        )


class HeaderField(BaseModel):
    name: str
    value: str


class AttachmentSummary(BaseModel):
    filename: str
    content_type: str
    size: int = Field(description="Decoded size in bytes.")


class MessageDetail(MessageSummary):
    """A message with its headers, readable bodies and attachment list."""

    headers: list[HeaderField]
    text: str | None = Field(description="The first text/plain part.")
    html: str | None = Field(description="The first text/html part.")
    attachments: list[AttachmentSummary]
    auth: AuthResults | None = Field(
        default=None,
        description="SPF, DKIM, DMARC and ARC results checked when the message was accepted "
        "(RFC 8601 words); null for mail from trusted networks or accepted before checks.",
    )
    notes: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="What post_receive plugins noted about the message, by plugin name "
        "(e.g. a summary, a language); filled in as their jobs finish.",
        examples=[{"summarizer": {"summary": "The invoice for March is attached."}}],
    )

    @classmethod
    def from_parsed(
        cls,
        entry: MailboxEntry,
        parsed: ParsedMessage,
        notes: dict[str, dict[str, str]] | None = None,
    ) -> MessageDetail:
        summary = MessageSummary.from_entry(entry).model_dump()
        return cls(
            **summary,
            notes=notes or {},
            auth=AuthResults.from_json(entry.auth_results) if entry.auth_results else None,
            headers=[HeaderField(name=name, value=value) for name, value in parsed.headers],
            text=parsed.text,
            html=parsed.html,
            attachments=[
                AttachmentSummary(filename=a.filename, content_type=a.content_type, size=a.size)
                for a in parsed.attachments
            ],
        )


class MessagePage(BaseModel):
    items: list[MessageSummary]
    next: str | None = Field(
        description="Cursor for the next (older) page, to pass as `before`; null at the end."
    )


class TagUpdate(BaseModel):
    """Tags to add and to remove; removal of an absent tag is not an error."""

    model_config = ConfigDict(extra="forbid")

    add: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    remove: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)


class FolderMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folder: FolderName


class SearchResult(MessageSummary):
    score: float = Field(description="Relevance; higher is better.")
    snippet: str = Field(description="Matching text around the query words.")


class SearchPage(BaseModel):
    items: list[SearchResult]
    next: str | None = Field(
        description="Cursor of the next page, to pass as `before` with the same `q` and "
        "`mailbox`; null at the end."
    )


class DomainOut(BaseModel):
    name: str
    tenant_id: str
    tenant: str = Field(description="Name of the owning tenant.")
    created_at: datetime

    @classmethod
    def from_domain(cls, domain: Domain, tenant_name: str) -> DomainOut:
        return cls(
            name=domain.name,
            tenant_id=domain.tenant_id,
            tenant=tenant_name,
            created_at=domain.created_at,
        )


class DomainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=253, examples=["example.com"])
    tenant: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Owning tenant's name, created if missing; defaults to the domain name.",
    )


class DomainList(BaseModel):
    items: list[DomainOut]


class UserOut(BaseModel):
    """A mailbox user; the password hash is never returned."""

    id: str
    address: str
    tenant_id: str
    created_at: datetime
    has_password: bool = Field(description="Whether the user may authenticate (SMTP AUTH).")
    role: MailboxRole
    quota_bytes: int | None = Field(
        description="The mailbox's own quota in bytes (0: unlimited); null: the platform "
        "default applies (see `GET /api/v1/users/{user_id}/quota` for the limit in force)."
    )
    used_bytes: int = Field(description="What the mailbox's messages take, in bytes.")

    @classmethod
    def from_mailbox(cls, mailbox: Mailbox) -> UserOut:
        return cls(
            id=mailbox.id,
            address=mailbox.address,
            tenant_id=mailbox.tenant_id,
            created_at=mailbox.created_at,
            has_password=mailbox.password_hash is not None,
            role=mailbox.role.value,
            quota_bytes=mailbox.quota_bytes,
            used_bytes=mailbox.used_bytes,
        )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=320, examples=["jane@example.com"])
    password: SecretStr | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Password for SMTP AUTH and API log-in; stored as a scrypt hash. Omit "
        "for none.",
    )
    role: MailboxRole = Field(
        default="user", description="`tenant_admin` manages the tenant's users and tokens."
    )


class UserList(BaseModel):
    items: list[UserOut]


class QueueRow(BaseModel):
    id: int
    message_id: str
    recipient: str
    state: QueueState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None

    @classmethod
    def from_item(cls, item: QueueItem) -> QueueRow:
        return cls(
            id=item.id,
            message_id=item.message.id,
            recipient=item.recipient,
            state=item.state,
            attempts=item.attempts,
            next_attempt_at=item.next_attempt_at,
            last_error=item.last_error,
        )


class QueueList(BaseModel):
    items: list[QueueRow]


class QueueStats(BaseModel):
    counts: dict[QueueState, int] = Field(description="Rows per state; every state is listed.")
    total: int


class HealthStatus(BaseModel):
    status: str = Field(examples=["ok"])
