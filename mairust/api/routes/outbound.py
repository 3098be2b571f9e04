"""The outbound queue: remote recipients by state and destination, a message's delivery
attempts, and the operations on waiting recipients (hold, release, retry, bounce, delete).

The routes parse and present; :class:`~mairust.services.outbound_queue.OutboundQueueService`
decides, through the caller's scope: a tenant admin sees and acts on its own tenant's rows
only, and another tenant's message answers 404 (invariant 5).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mairust.api.deps import AppDep, PlatformReader, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_outbound import (
    AttemptList,
    AttemptRow,
    OutboundActionResult,
    OutboundList,
    OutboundRow,
    OutboundSelectionBody,
    OutboundStats,
)
from mairust.model.outbound import QueueAction, RecipientState

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/outbound",
    tags=["outbound"],
    responses=problem_responses(401, 403, 503),
)


@router.get(
    "",
    response_model=OutboundList,
    summary="List outbound recipients",
    responses=problem_responses(422),
)
def list_outbound(
    principal: TenantAdmin,
    application: AppDep,
    state: Annotated[
        list[RecipientState] | None,
        Query(description="Only these states (repeat the parameter for several)."),
    ] = None,
    destination: Annotated[
        str | None, Query(max_length=300, description="Only this destination (domain).")
    ] = None,
    message_id: Annotated[
        str | None, Query(max_length=64, description="Only this message.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most rows to return.")] = 100,
) -> OutboundList:
    """Outbound recipients (one per message and remote recipient), newest first; with
    `state` given more than once, rows in any of those states (`state=deferred&state=held`:
    the mail waiting)."""
    rows = application.outbound.rows(principal, state or (), destination, message_id, limit)
    return OutboundList(items=[OutboundRow.from_item(item) for item in rows])


@router.get("/stats", response_model=OutboundStats, summary="Count outbound recipients")
def outbound_stats(principal: PlatformReader, application: AppDep) -> OutboundStats:
    """Recipients per state (every state listed), and those pending per destination."""
    counts = application.outbound.counts(principal)
    return OutboundStats(
        counts=counts.by_state, pending_by_destination=counts.pending_by_destination
    )


@router.get(
    "/messages/{message_id}/attempts",
    response_model=AttemptList,
    summary="A message's delivery attempts",
    responses=problem_responses(404),
)
def message_attempts(
    principal: TenantAdmin,
    application: AppDep,
    message_id: Annotated[str, Path(max_length=64, description="The queue id (250 ... as <id>).")],
) -> AttemptList:
    """Every attempt at the message's remote recipients, oldest first: when, which host,
    what it answered, and what that made of the recipient."""
    attempts = application.outbound.attempts(principal, message_id)
    return AttemptList(message_id=message_id, items=[AttemptRow.from_attempt(a) for a in attempts])


@router.post(
    "/{action}",
    response_model=OutboundActionResult,
    summary="Hold, release, retry, bounce or delete waiting recipients",
    responses=problem_responses(404, 422),
)
def act_on_outbound(
    principal: TenantAdmin,
    application: AppDep,
    action: Annotated[QueueAction, Path(description="What to do.")],
    body: OutboundSelectionBody,
) -> OutboundActionResult:
    """Apply ``action`` to the waiting recipients the body names (recipients in flight or
    done are left alone; none matching is a 404). ``bounce`` sends no DSN: the operator
    decided it, and the attempt and event say so."""
    changed = application.outbound.act(principal, action, body.to_selection())
    return OutboundActionResult(changed=[OutboundRow.from_item(item) for item in changed])
