"""Messages in mailboxes: list (with filters), read (parsed, raw, one attachment), tag,
flag, move, delete (to Trash, then purge), and threads.

The routes parse and present; :class:`~mairust.services.mailboxes.MailboxService` decides,
through the caller's scope (another tenant's entry id answers 404, invariant 5).
Endpoints are sync: the stores block; they run on the app's route threads
(:mod:`mairust.api.route_threads`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response

from mairust.api.deps import AppDep, Reader, Writer
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas import (
    FolderMove,
    FolderName,
    MessageDetail,
    MessagePage,
    MessageSummary,
    Tag,
    TagUpdate,
)
from mairust.api.schemas_mailboxes import FlagUpdate, ThreadItem, ThreadPage, ThreadView
from mairust.auth.results import ArcWord, DkimWord, DmarcWord, SpfWord
from mairust.model.principal import Principal
from mairust.services.application import Application
from mairust.services.mailboxes import EntryFilters

RAW_MEDIA_TYPE = "message/rfc822"

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/messages",
    tags=["messages"],
    responses=problem_responses(401, 403, 503),
)
threads_router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/threads",
    tags=["messages"],
    responses=problem_responses(401, 403, 503),
)


MailboxAddress = Annotated[
    str | None,
    Query(
        min_length=3,
        max_length=320,
        description="Only this mailbox (an address); all mailboxes in scope if omitted.",
        examples=["jane@example.com"],
    ),
]


def mailbox_id_of(
    application: Application, principal: Principal, mailbox: str | None
) -> str | None:
    """The id of the mailbox named by ``mailbox``, inside the caller's scope (a mailbox
    of another tenant is reported exactly like a missing one: 404). Called by the route
    itself, on its thread: a dependency of its own would cost the request a second hop
    to the thread pool and a transaction of its own."""
    if mailbox is None:
        return None
    return application.directory.find_user(principal, mailbox).id


EntryId = Annotated[
    str, Path(min_length=1, max_length=64, description="A mailbox entry id (`id` in listings).")
]


async def entry_filters(
    tag: Annotated[Tag | None, Query(description="Only messages carrying this tag.")] = None,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            min_length=2,
            max_length=320,
            pattern=r"^[^\s@]*@[^\s@]+$",
            description="Only from this sender address, or `@domain` for any sender there.",
        ),
    ] = None,
    received_after: Annotated[
        datetime | None,
        Query(description="Received at or after this time (ISO 8601, with a zone)."),
    ] = None,
    received_before: Annotated[
        datetime | None,
        Query(description="Received before this time (ISO 8601, with a zone)."),
    ] = None,
    unread: Annotated[bool | None, Query(description="Only unseen (true) or seen (false).")] = None,
    flagged: Annotated[bool | None, Query(description="Only flagged (true) or not.")] = None,
    spf: Annotated[SpfWord | None, Query(description="SPF result (RFC 8601 word).")] = None,
    dkim: Annotated[DkimWord | None, Query(description="DKIM result (RFC 8601 word).")] = None,
    dmarc: Annotated[DmarcWord | None, Query(description="DMARC result (RFC 8601 word).")] = None,
    arc: Annotated[ArcWord | None, Query(description="ARC result (RFC 8601 word).")] = None,
) -> EntryFilters:
    """The listing filters from the query string; bad values are 422 (FastAPI, or the
    service's own rules: a time with a zone, a range that is not reversed). Async: pure,
    so no hop to the thread pool."""
    words = {"spf": spf, "dkim": dkim, "dmarc": dmarc, "arc": arc}
    return EntryFilters(
        from_addr=from_,
        tag=tag,
        received_after=received_after,
        received_before=received_before,
        unread=unread,
        flagged=flagged,
        auth={method: word.value for method, word in words.items() if word is not None} or None,
    )


Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="The `next` cursor of the previous page."),
]
PageSize = Annotated[int, Query(ge=1, le=500, description="Page size.")]


@router.get(
    "",
    response_model=MessagePage,
    summary="List messages, newest first",
    responses=problem_responses(404, 422),
)
def list_messages(
    principal: Reader,
    application: AppDep,
    filters: Annotated[EntryFilters, Depends(entry_filters)],
    mailbox: MailboxAddress = None,
    folder: Annotated[FolderName | None, Query(description="Only this folder.")] = None,
    limit: PageSize = 50,
    before: Cursor = None,
) -> MessagePage:
    """A page of message summaries in the caller's scope, optionally one mailbox and folder,
    narrowed by every filter given (tag, sender, received time range, unread, flagged and
    authentication results). An unknown mailbox (or one of another tenant) is a 404.
    """
    mailbox_id = mailbox_id_of(application, principal, mailbox)
    page = application.mailboxes.page(principal, mailbox_id, folder, limit, before, filters)
    return MessagePage(items=[MessageSummary.from_entry(e) for e in page.items], next=page.next)


@router.get(
    "/{entry_id}",
    response_model=MessageDetail,
    summary="Read one message",
    responses=problem_responses(404),
)
def get_message(entry_id: EntryId, principal: Reader, application: AppDep) -> MessageDetail:
    """The summary plus the parsed headers, text and HTML bodies, the attachment list and
    the notes post_receive plugins kept about it."""
    entry, parsed = application.mailboxes.read(principal, entry_id)
    return MessageDetail.from_parsed(entry, parsed, application.mailboxes.notes(entry))


@router.get(
    "/{entry_id}/raw",
    summary="Download the raw message",
    response_class=Response,
    responses={
        200: {"content": {RAW_MEDIA_TYPE: {}}, "description": "The exact stored bytes."},
        **problem_responses(404),
    },
)
def get_raw_message(entry_id: EntryId, principal: Reader, application: AppDep) -> Response:
    """The message exactly as stored (RFC 5322 bytes, CRLF line endings), as a `.eml`."""
    entry, raw = application.mailboxes.raw(principal, entry_id)
    return Response(
        raw,
        media_type=RAW_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{entry.id}.eml"'},
    )


@router.post(
    "/{entry_id}/tags",
    response_model=MessageSummary,
    summary="Add and remove tags",
    responses=problem_responses(404, 422),
)
def update_tags(
    entry_id: EntryId, update: TagUpdate, principal: Writer, application: AppDep
) -> MessageSummary:
    """Adds `add` and removes `remove`; a message carries at most 50 tags."""
    entry = application.mailboxes.tag(principal, entry_id, add=update.add, remove=update.remove)
    return MessageSummary.from_entry(entry)


@router.post(
    "/{entry_id}/move",
    response_model=MessageSummary,
    summary="Move to another folder",
    responses=problem_responses(404, 409, 422),
)
def move_message(
    entry_id: EntryId, move: FolderMove, principal: Writer, application: AppDep
) -> MessageSummary:
    """Moves the entry to `folder` (created implicitly; folders are names on entries);
    409 for a message held in Quarantine (release or delete it under /api/v1/quarantine)."""
    return MessageSummary.from_entry(application.mailboxes.move(principal, entry_id, move.folder))


@router.post(
    "/{entry_id}/flags",
    response_model=MessageSummary,
    summary="Set the seen and flagged flags",
    responses=problem_responses(404, 422),
)
def update_flags(
    entry_id: EntryId, update: FlagUpdate, principal: Writer, application: AppDep
) -> MessageSummary:
    """Sets `seen` and/or `flagged`; a flag left out (or null) stays as it is."""
    entry = application.mailboxes.flag(
        principal, entry_id, seen=update.seen, flagged=update.flagged
    )
    return MessageSummary.from_entry(entry)


@router.delete(
    "/{entry_id}",
    response_model=MessageSummary,
    summary="Delete to Trash, or purge from Trash",
    responses={
        204: {"description": "Purged: the message is gone for good."},
        **problem_responses(404, 409, 422),
    },
)
def delete_message(
    entry_id: EntryId,
    principal: Writer,
    application: AppDep,
    purge: Annotated[
        bool,
        Query(description="Remove for good; only for a message already in Trash (else 409)."),
    ] = False,
) -> MessageSummary | Response:
    """Without `purge`: moves the message to Trash and answers its summary. With
    `purge=true`: removes a message in Trash for good (204), with its search document and,
    once no other entry or queued delivery needs it, the stored message body."""
    deleted = application.mailboxes.delete(principal, entry_id, purge=purge)
    if deleted.entry is None:
        return Response(status_code=204)
    return MessageSummary.from_entry(deleted.entry)


@router.get(
    "/{entry_id}/attachments/{index}",
    summary="Download one attachment",
    response_class=Response,
    responses={
        200: {
            # The attachment's own type, whatever the message declared for it.
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The decoded attachment, with its own content type.",
        },
        **problem_responses(404, 422),
    },
)
def get_attachment(
    entry_id: EntryId,
    index: Annotated[
        int, Path(ge=0, le=10_000, description="Position in the message's `attachments` (0 first).")
    ],
    principal: Reader,
    application: AppDep,
) -> Response:
    """Attachment `index` as the message detail lists it, decoded, always as a download
    (`Content-Disposition: attachment`, sandboxed, never sniffed)."""
    attachment = application.mailboxes.attachment(principal, entry_id, index)
    return Response(
        attachment.content,
        media_type=attachment.info.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(attachment.info.filename, index),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.get(
    "/{entry_id}/thread",
    response_model=ThreadView,
    summary="The thread of a message",
    responses=problem_responses(404),
)
def get_thread(entry_id: EntryId, principal: Reader, application: AppDep) -> ThreadView:
    """Every message of the entry's thread in its mailbox (by Message-ID, In-Reply-To and
    References), oldest first, the message itself included."""
    return ThreadView.from_entries(application.mailboxes.thread(principal, entry_id))


@threads_router.get(
    "",
    response_model=ThreadPage,
    summary="List threads, newest activity first",
    responses=problem_responses(404, 422),
)
def list_threads(
    principal: Reader,
    application: AppDep,
    mailbox: MailboxAddress = None,
    limit: PageSize = 50,
    before: Cursor = None,
) -> ThreadPage:
    """The threads in the caller's scope (or one mailbox), each with its newest message and
    its size, the most recently active first."""
    mailbox_id = mailbox_id_of(application, principal, mailbox)
    page = application.mailboxes.threads(principal, mailbox_id, limit, before)
    return ThreadPage(items=[ThreadItem.from_summary(t) for t in page.items], next=page.next)


_UNSAFE_IN_FILENAME = frozenset('"\\/:*?<>|;')


def content_disposition(filename: str, index: int) -> str:
    """``attachment`` with an ASCII ``filename`` (no quotes, slashes, controls, nothing a
    header or a path could be broken with) and the full name as RFC 8187 ``filename*``."""
    cleaned = "".join(
        "_" if char in _UNSAFE_IN_FILENAME or not char.isprintable() else char for char in filename
    ).strip(" .")[:200]
    name = cleaned or f"attachment-{index}"
    ascii_name = "".join(char if 32 <= ord(char) < 127 else "_" for char in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
