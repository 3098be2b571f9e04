"""The delivery queue as the operator sees it: rows and counts per state (read-only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mairust.api.deps import AppDep, PlatformReader
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas import QueueList, QueueRow, QueueStats
from mairust.model.queue import QueueState

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/queue",
    tags=["queue"],
    responses=problem_responses(401, 403, 503),
)


@router.get(
    "", response_model=QueueList, summary="List queue rows", responses=problem_responses(422)
)
def list_queue(
    principal: PlatformReader,
    application: AppDep,
    state: Annotated[QueueState | None, Query(description="Only rows in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most rows to return.")] = 100,
) -> QueueList:
    """Queue rows (one per message and recipient), optionally of one state."""
    rows = application.queue.rows(principal, state, limit)
    return QueueList(items=[QueueRow.from_item(i) for i in rows])


@router.get("/stats", response_model=QueueStats, summary="Count queue rows per state")
def queue_stats(principal: PlatformReader, application: AppDep) -> QueueStats:
    """How many rows are in each state; states without rows count 0."""
    counts = application.queue.counts(principal)
    return QueueStats(counts=counts, total=sum(counts.values()))
