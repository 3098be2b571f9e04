"""Messages in mailboxes: list, read (parsed or raw), tag and move.

The routes parse and present; :class:`~mairust.services.mailboxes.MailboxService` decides,
through the caller's scope (another tenant's entry id answers 404, invariant 5).
Endpoints are sync: the stores block, FastAPI runs sync endpoints in its thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from mairust.api.deps import AppDep, Reader, Writer
from mairust.api.problems import problem_responses
from mairust.api.schemas import (
    FolderMove,
    FolderName,
    MessageDetail,
    MessagePage,
    MessageSummary,
    TagUpdate,
)

RAW_MEDIA_TYPE = "message/rfc822"

router = APIRouter(
    prefix="/api/v1/messages",
    tags=["messages"],
    responses=problem_responses(401, 403, 503),
)


def mailbox_id_of(
    application: AppDep,
    principal: Reader,
    mailbox: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=320,
            description="Only this mailbox (an address); all mailboxes in scope if omitted.",
            examples=["jane@example.com"],
        ),
    ] = None,
) -> str | None:
    """The id of the mailbox named by ``mailbox``, inside the caller's scope (a mailbox
    of another tenant is reported exactly like a missing one: 404)."""
    if mailbox is None:
        return None
    return application.directory.find_user(principal, mailbox).id


MailboxId = Annotated[str | None, Depends(mailbox_id_of)]

EntryId = Annotated[
    str, Path(min_length=1, max_length=64, description="A mailbox entry id (`id` in listings).")
]


@router.get(
    "",
    response_model=MessagePage,
    summary="List messages, newest first",
    responses=problem_responses(404, 422),
)
def list_messages(
    principal: Reader,
    application: AppDep,
    mailbox_id: MailboxId,
    folder: Annotated[FolderName | None, Query(description="Only this folder.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    before: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="The `next` cursor of the previous page."),
    ] = None,
) -> MessagePage:
    """A page of message summaries in the caller's scope, optionally one mailbox and folder.

    An unknown mailbox (or one of another tenant) is a 404.
    """
    page = application.mailboxes.page(principal, mailbox_id, folder, limit, before)
    return MessagePage(items=[MessageSummary.from_entry(e) for e in page.items], next=page.next)


@router.get(
    "/{entry_id}",
    response_model=MessageDetail,
    summary="Read one message",
    responses=problem_responses(404),
)
def get_message(entry_id: EntryId, principal: Reader, application: AppDep) -> MessageDetail:
    """The summary plus the parsed headers, text and HTML bodies and the attachment list."""
    entry, parsed = application.mailboxes.read(principal, entry_id)
    return MessageDetail.from_parsed(entry, parsed)


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
    responses=problem_responses(404, 422),
)
def move_message(
    entry_id: EntryId, move: FolderMove, principal: Writer, application: AppDep
) -> MessageSummary:
    """Moves the entry to `folder` (created implicitly; folders are names on entries)."""
    return MessageSummary.from_entry(application.mailboxes.move(principal, entry_id, move.folder))
