"""A tenant's suppression list: list it, add (or import) addresses, remove one.

Hard bounces and complaints add themselves; sending to a suppressed address is refused
with its reason (``550 5.7.1`` at RCPT, a 422 from ``/send``). The routes parse and
present; :class:`~mairust.services.suppressions.SuppressionService` decides, in the
caller's tenant (another tenant's list answers 404, invariant 5).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from mairust.api.deps import AppDep, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_suppressions import (
    SuppressionAdd,
    SuppressionAdded,
    SuppressionEntry,
    SuppressionPage,
)

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/suppressions",
    tags=["outbound"],
    responses=problem_responses(401, 403, 503),
)

TenantQuery = Annotated[
    str | None,
    Query(max_length=64, description="The tenant (the platform admin's choice; default own)."),
]


@router.get(
    "",
    response_model=SuppressionPage,
    summary="List suppressed addresses",
    responses=problem_responses(404, 422),
)
def list_suppressions(
    principal: TenantAdmin,
    application: AppDep,
    tenant_id: TenantQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    after: Annotated[
        str | None, Query(max_length=254, description="The last address of the previous page.")
    ] = None,
) -> SuppressionPage:
    """Suppressed addresses by address, with why and since when."""
    entries = application.suppressions.entries(principal, tenant_id, limit, after)
    last = entries[-1].address if len(entries) == limit else None
    return SuppressionPage(items=[SuppressionEntry.from_entry(e) for e in entries], next=last)


@router.post(
    "",
    response_model=SuppressionAdded,
    summary="Suppress addresses (or import a list)",
    responses=problem_responses(404, 422),
)
def add_suppressions(
    principal: TenantAdmin, application: AppDep, body: SuppressionAdd
) -> SuppressionAdded:
    """Add addresses to the list; ones already on it keep their first entry."""
    result = application.suppressions.add(principal, body.addresses, body.tenant_id, body.reason)
    return SuppressionAdded(added=result.added, already=result.already)


@router.delete(
    "/{address}",
    status_code=204,
    summary="Remove an address from the list",
    responses=problem_responses(404, 422),
)
def remove_suppression(
    principal: TenantAdmin,
    application: AppDep,
    address: Annotated[str, Path(max_length=254, description="The suppressed address.")],
    tenant_id: TenantQuery = None,
) -> Response:
    """Mail may go to the address again."""
    application.suppressions.remove(principal, address, tenant_id)
    return Response(status_code=204)
