"""Quarantine management: list what hooks' ``quarantine`` verdicts hold, release a held
message to its folder, delete one for good.

The routes parse and present; :class:`~mairust.services.quarantine.QuarantineService`
decides, through the caller's scope: a user's token sees its own mailbox's held mail, a
tenant admin's the tenant's; another tenant's entry id answers 404 (invariant 5).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from mairust.api.deps import AppDep, Reader, Writer
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.routes.messages import EntryId, MailboxAddress, mailbox_id_of
from mairust.api.schemas import MessageSummary
from mairust.api.schemas_quarantine import HeldMessage, HeldPage

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/quarantine",
    tags=["messages"],
    responses=problem_responses(401, 403, 503),
)


@router.get(
    "",
    response_model=HeldPage,
    summary="List held messages, newest first",
    responses=problem_responses(404, 422),
)
def list_held(
    principal: Reader,
    application: AppDep,
    mailbox: MailboxAddress = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    before: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="The `next` cursor of the previous page."),
    ] = None,
) -> HeldPage:
    """The messages held in Quarantine in the caller's scope (one mailbox with `mailbox`),
    each with the folder a release would put it in."""
    mailbox_id = mailbox_id_of(application, principal, mailbox)
    page = application.quarantine.page(principal, mailbox_id, limit, before)
    return HeldPage(items=[HeldMessage.from_held(h) for h in page.items], next=page.next)


@router.post(
    "/{entry_id}/release",
    response_model=MessageSummary,
    summary="Release a held message",
    responses=problem_responses(404, 409),
)
def release_held(entry_id: EntryId, principal: Writer, application: AppDep) -> MessageSummary:
    """Moves the held message to the folder it would have been delivered to (INBOX when
    none) and records a `QuarantineReleased` event (webhook type `quarantine.released`);
    409 when the message is not held."""
    return MessageSummary.from_entry(application.quarantine.release(principal, entry_id))


@router.delete(
    "/{entry_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a held message for good",
    responses=problem_responses(404, 409),
)
def delete_held(entry_id: EntryId, principal: Writer, application: AppDep) -> Response:
    """Removes the held message for good, with its search document and, once nothing
    else needs it, the stored body; 409 when the message is not held."""
    application.quarantine.delete(principal, entry_id)
    return Response(status_code=204)
