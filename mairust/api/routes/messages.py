"""Messages in mailboxes: list, read (parsed or raw), tag and move.

Every read and write goes through the caller's scope, so another tenant's entry id
answers 404 (invariant 5). Endpoints are sync: the stores block, FastAPI runs sync
endpoints in its thread pool.

Tagging and moving update the entry's labels in the search index in place (the blob is
not read again), so ``tag:`` and ``folder:`` searches see the change at once; when search
is down the entry waits in the durable search backlog and the answer is still 200 (the
metadata store is the truth, the indexer catches up).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from mairust.api.deps import BlobsDep, CurrentScope, EntriesDep, MailboxFilter, StoresDep
from mairust.api.problems import problem_responses
from mairust.api.schemas import (
    MAX_TAGS,
    FolderMove,
    FolderName,
    MessageDetail,
    MessagePage,
    MessageSummary,
    TagUpdate,
)
from mairust.errors import InvalidInput, NotFound
from mairust.model.parsing import parse_message
from mairust.search.indexing import relabel_or_backlog

RAW_MEDIA_TYPE = "message/rfc822"

router = APIRouter(
    prefix="/api/v1/messages",
    tags=["messages"],
    responses=problem_responses(401, 503),
)

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
    scope: CurrentScope,
    entries: EntriesDep,
    mailbox: MailboxFilter,
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
    # One row more than asked tells whether another page exists without a count query.
    try:
        found = entries.list_entries(
            scope,
            mailbox_id=mailbox.id if mailbox is not None else None,
            folder=folder,
            limit=limit + 1,
            before=before,
        )
    except NotFound as exc:
        # The mailbox was resolved above, so only the cursor can be unknown: bad input.
        raise InvalidInput("'before' is not a cursor from a previous page") from exc
    page = found[:limit]
    cursor = page[-1].id if len(found) > limit else None
    return MessagePage(items=[MessageSummary.from_entry(e) for e in page], next=cursor)


@router.get(
    "/{entry_id}",
    response_model=MessageDetail,
    summary="Read one message",
    responses=problem_responses(404),
)
def get_message(
    entry_id: EntryId, scope: CurrentScope, entries: EntriesDep, blobs: BlobsDep
) -> MessageDetail:
    """The summary plus the parsed headers, text and HTML bodies and the attachment list."""
    entry = entries.get_entry(scope, entry_id)
    parsed = parse_message(blobs.get(entry.blob_key))
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
def get_raw_message(
    entry_id: EntryId, scope: CurrentScope, entries: EntriesDep, blobs: BlobsDep
) -> Response:
    """The message exactly as stored (RFC 5322 bytes, CRLF line endings)."""
    entry = entries.get_entry(scope, entry_id)
    return Response(
        blobs.get(entry.blob_key),
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
    entry_id: EntryId, update: TagUpdate, scope: CurrentScope, stores: StoresDep
) -> MessageSummary:
    """Adds `add` and removes `remove`; a message carries at most 50 tags."""
    metadata = stores.metadata
    both = set(update.add) & set(update.remove)
    if both:
        raise InvalidInput(f"tags both added and removed: {', '.join(sorted(both))}")
    if update.add:
        # Checked before writing so a refused update changes nothing (invariant 7).
        current = metadata.get_entry(scope, entry_id)
        resulting = (set(current.tags) | set(update.add)) - set(update.remove)
        if len(resulting) > MAX_TAGS:
            raise InvalidInput(f"a message carries at most {MAX_TAGS} tags")
    entry = metadata.set_tags(scope, entry_id, add=update.add, remove=update.remove)
    relabel_or_backlog(stores, entry)
    return MessageSummary.from_entry(entry)


@router.post(
    "/{entry_id}/move",
    response_model=MessageSummary,
    summary="Move to another folder",
    responses=problem_responses(404, 422),
)
def move_message(
    entry_id: EntryId, move: FolderMove, scope: CurrentScope, stores: StoresDep
) -> MessageSummary:
    """Moves the entry to `folder` (created implicitly; folders are names on entries)."""
    entry = stores.metadata.move_entry(scope, entry_id, move.folder)
    relabel_or_backlog(stores, entry)
    return MessageSummary.from_entry(entry)
