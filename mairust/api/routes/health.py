"""Operational endpoints without authentication: liveness and Prometheus metrics.

Neither exposes tenant data: ``/healthz`` answers only ``ok`` or a 503 problem,
``/metrics`` counts requests by route template and reports queue rows per state and the
search backlog (no tenant data).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from mairust.api.deps import ApiMetricsDep, MetadataDep
from mairust.api.metrics import METRICS_MEDIA_TYPE
from mairust.api.problems import problem_responses
from mairust.api.schemas import HealthStatus
from mairust.errors import StorageUnavailable

_log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

# A lookup that hits an index and finds nothing: proves the store answers, costs ~nothing.
_PROBE_DOMAIN = "healthcheck.invalid"


@router.get(
    "/healthz",
    response_model=HealthStatus,
    summary="Liveness and store check",
    responses=problem_responses(503),
)
def healthz(metadata: MetadataDep) -> HealthStatus:
    """`ok` when the API answers and the metadata store answers a lookup; 503 otherwise."""
    try:
        metadata.get_domain(_PROBE_DOMAIN)
    except StorageUnavailable:
        raise
    except Exception as exc:
        # A backend error the store did not wrap still means "store down" to a prober.
        _log.exception("health check: metadata store failed")
        raise StorageUnavailable("metadata store check failed") from exc
    return HealthStatus(status="ok")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(api_metrics: ApiMetricsDep) -> Response:
    """Request counts and latency histograms of this API app, in Prometheus text format."""
    return Response(api_metrics.render(), media_type=METRICS_MEDIA_TYPE)
