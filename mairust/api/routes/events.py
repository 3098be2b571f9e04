"""The tenant's event log and the message trace (tenant admins; the platform admin sees
every tenant's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from mairust.api.deps import AppDep, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_events import EventOut, EventPage, TraceOut
from mairust.events import RecordType
from mairust.services.events import TraceQuery

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1",
    tags=["events"],
    responses=problem_responses(401, 403, 503),
)

_CURSOR = Query(min_length=1, max_length=64, description="The `next` cursor of the previous page.")


@router.get("/events", response_model=EventPage, summary="Read the event log")
def list_events(
    principal: TenantAdmin,
    application: AppDep,
    type: Annotated[list[RecordType] | None, Query(description="Only these types.")] = None,
    since: Annotated[datetime | None, Query(description="At or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    before: Annotated[str | None, _CURSOR] = None,
) -> EventPage:
    """Receptions, refusals, deliveries and failures of the caller's tenant, newest first."""
    found = application.events.page(
        principal, kinds=type or (), since=since, until=until, limit=limit + 1, before=before
    )
    page = found[:limit]
    return EventPage(
        items=[EventOut.from_event(e) for e in page],
        next=page[-1].id if len(found) > limit else None,
    )


@router.get(
    "/events/trace",
    response_model=TraceOut,
    summary="Trace a message",
    responses=problem_responses(422),
)
def trace(
    principal: TenantAdmin,
    application: AppDep,
    message_id: Annotated[
        str | None, Query(min_length=3, max_length=250, description="A Message-ID header.")
    ] = None,
    queue_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Our queue id.")
    ] = None,
    recipient: Annotated[
        str | None, Query(min_length=3, max_length=254, description="A recipient address.")
    ] = None,
) -> TraceOut:
    """Everything that happened to one message (by Message-ID or queue id) or to mail for
    one recipient, oldest first, refusals before the 250 included. Exactly one of the
    three parameters."""
    query = TraceQuery(message_id=queue_id, header_message_id=message_id, recipient=recipient)
    return TraceOut(
        items=[EventOut.from_event(e) for e in application.events.trace(principal, query)]
    )
