"""Per-minute series for the UI's live charts (platform admin, read-only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from mairust.api.deps import PlatformReader, StoresDep
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.services.stats import StatsSeries, StatsService
from mairust.telemetry import MINUTES_KEPT

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/stats",
    tags=["operations"],
    responses=problem_responses(401, 403, 503),
)


class HookLatencyOut(BaseModel):
    calls: int
    mean_ms: float


class MinuteOut(BaseModel):
    start: datetime = Field(description="The minute's first second (UTC).")
    messages_in: int = Field(description="Messages accepted (spool commits).")
    messages_out: int = Field(description="Recipients delivered: mailboxes and remote.")
    replies: dict[str, int] = Field(description="SMTP replies sent, by reply code.")
    queue_depth: int = Field(description="Local queue rows waiting at the minute's end.")
    hook_latency: dict[str, HookLatencyOut] = Field(description="Per plugin.")
    hook_verdicts: dict[str, dict[str, int]] = Field(
        description="Per plugin, calls by the verdict they came to (`continue`, `accept`, "
        "`reject`, `tempfail`, `discard`, `quarantine`; a failed call counts as its "
        "binding's `on_error` verdict).",
        examples=[{"spam-filter": {"continue": 41, "reject": 3}}],
    )
    auth: dict[str, dict[str, int]] = Field(
        description="Per method (`spf`, `dkim`, `dmarc`, `arc`), messages checked at DATA by "
        "their RFC 8601 result; mail from trusted networks is not checked.",
        examples=[{"spf": {"pass": 12, "fail": 1}, "dmarc": {"pass": 11, "none": 2}}],
    )


class StatsOut(BaseModel):
    minutes: list[MinuteOut] = Field(description="Oldest first; the last one is partial.")
    processes: list[str] = Field(description="The processes whose counts are summed.")
    queue_depth_now: int
    local_queue_now: dict[str, int] = Field(
        description="Local delivery rows waiting now, by state (`queued`, `leased`)."
    )
    outbound_queue_now: dict[str, int] = Field(
        description="Outbound recipients not yet final now, by state (`scheduled`, "
        "`deferred`, `leased`, `held`)."
    )
    deferred_by_destination: dict[str, int] = Field(
        description="Outbound recipients deferred now, by destination (domain or relay "
        "host), the busiest ten; the rest summed under `(others)`."
    )

    @classmethod
    def of(cls, series: StatsSeries) -> StatsOut:
        return cls(
            minutes=[
                MinuteOut(
                    start=datetime.fromtimestamp(m.minute * 60, UTC),
                    messages_in=m.messages_in,
                    messages_out=m.messages_out,
                    replies=m.replies,
                    queue_depth=m.queue_depth,
                    hook_latency={
                        plugin: HookLatencyOut(calls=h.calls, mean_ms=h.mean_ms)
                        for plugin, h in m.hooks.items()
                    },
                    hook_verdicts=m.hook_verdicts,
                    auth=m.auth,
                )
                for m in series.minutes
            ],
            processes=series.processes,
            queue_depth_now=series.queue_depth_now,
            local_queue_now=series.local_queue_now,
            outbound_queue_now=series.outbound_queue_now,
            deferred_by_destination=series.deferred_by_destination,
        )


@router.get(
    "", response_model=StatsOut, summary="Per-minute series", responses=problem_responses(422)
)
def stats(
    principal: PlatformReader,
    stores: StoresDep,
    request: Request,
    minutes: Annotated[
        int, Query(ge=1, le=MINUTES_KEPT, description="How many minutes, up to now.")
    ] = 15,
) -> StatsOut:
    """Messages in and out, SMTP reply codes, queue depth, hook latency and verdicts and
    authentication results per minute, summed over every process that answered (see the
    observability docs for limits); the queues by state and the deferred recipients by
    destination now."""
    service = StatsService(stores.metadata, stores.metadata, request.app.state.telemetry)
    return StatsOut.of(service.series(principal, minutes))
