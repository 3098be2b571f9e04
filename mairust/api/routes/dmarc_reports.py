"""DMARC aggregate reports received for a local domain, under
``/domains/{domain}/dmarc-reports``: newest first, in pages, each with its pass and fail
counts. Routes parse and present;
:class:`~mairust.services.dmarc_reports.DmarcReportService` decides. Another tenant's
domain answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mairust.api.deps import AppDep, Reader
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_dmarc import DmarcReportOut, DmarcReportPage
from mairust.services.dmarc_reports import MAX_PAGE

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/domains/{domain}/dmarc-reports",
    tags=["directory"],
    responses=problem_responses(401, 403, 404, 503),
)

DomainName = Annotated[str, Path(min_length=1, max_length=253, description="A local domain.")]


@router.get(
    "",
    response_model=DmarcReportPage,
    summary="List the DMARC aggregate reports received for a domain",
    responses=problem_responses(422),
)
def list_dmarc_reports(
    domain: DomainName,
    principal: Reader,
    application: AppDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 50,
    after: Annotated[
        str | None, Query(max_length=64, description="The last id of the previous page.")
    ] = None,
) -> DmarcReportPage:
    """Reports receivers mailed to `domain`'s `rua` address, newest first, with how many
    of the messages each saw passed and failed DMARC (tenant admins, own domains)."""
    reports = application.dmarc_reports.reports(principal, domain, limit, after)
    last = reports[-1].id if len(reports) == limit else None
    return DmarcReportPage(items=[DmarcReportOut.from_report(r) for r in reports], next=last)
