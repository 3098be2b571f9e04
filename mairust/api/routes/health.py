"""Operational endpoints without authentication: liveness and Prometheus metrics.

Neither exposes tenant data: ``/healthz`` answers only ``ok`` or a 503 problem (the
metadata store does not answer, or the dispatcher's lease loop has stalled),
``/metrics`` counts requests by route template and reports queue rows per state and the
search backlog (no tenant data).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from mairust.api.deps import ApiMetricsDep, SettingsDep, StoresDep
from mairust.api.metrics import METRICS_MEDIA_TYPE
from mairust.api.problems import LOOP_STALLED, RETRY_AFTER_SECONDS, ProblemError, problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas import HealthStatus
from mairust.errors import StorageUnavailable
from mairust.pipeline.dispatcher import LeaseLoopStall, lease_loop_stall

_log = logging.getLogger(__name__)

router = APIRouter(route_class=PooledRoute, tags=["operations"])

# A lookup that hits an index and finds nothing: proves the store answers, costs ~nothing.
_PROBE_DOMAIN = "healthcheck.invalid"


@router.get(
    "/healthz",
    response_model=HealthStatus,
    summary="Liveness and store check",
    responses=problem_responses(503),
)
def healthz(stores: StoresDep, settings: SettingsDep) -> HealthStatus:
    """`ok` when the API answers, the metadata store answers and the queue moves.

    503 when the store fails, or when a due queue row has waited longer than
    `queue.stall_seconds` while no dispatcher leased for as long (the detail names the
    stalled loop and both ages).
    """
    stall: LeaseLoopStall | None
    try:
        stores.metadata.get_domain(_PROBE_DOMAIN)
        stall = lease_loop_stall(stores.metadata, settings.queue.stall_seconds)
    except StorageUnavailable:
        raise
    except Exception as exc:
        # A backend error the store did not wrap still means "store down" to a prober.
        _log.exception("health check: metadata store failed")
        raise StorageUnavailable("metadata store check failed") from exc
    if stall is not None:
        detail = stall.describe()
        _log.warning("health check: %s", detail)
        raise ProblemError(LOOP_STALLED, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return HealthStatus(status="ok")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
def metrics(api_metrics: ApiMetricsDep) -> Response:
    """Request counts and latency histograms of this API app, the queue's state, the
    plugins' figures and every process's own counters, in Prometheus text format."""
    # Not async: the collectors read the store and ask the other processes (blocking).
    return Response(api_metrics.render(), media_type=METRICS_MEDIA_TYPE)
