"""Mailbox quotas: read a user's quota and usage, and (tenant admins) set the quota.

Routes parse and present; :class:`~mairust.services.quotas.QuotaService` decides. The
mailbox is reached through the caller's scope: another tenant's user is a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from mairust.api.deps import AppDep, Reader, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_quota import QuotaOut, QuotaSet

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1",
    tags=["directory"],
    responses=problem_responses(401, 403, 503),
)

UserId = Annotated[str, Path(min_length=1, max_length=64, description="A mailbox user's id.")]


@router.get(
    "/users/{user_id}/quota",
    response_model=QuotaOut,
    summary="Read a user's quota and usage",
    responses=problem_responses(404),
)
def read_quota(user_id: UserId, principal: Reader, application: AppDep) -> QuotaOut:
    """The limit in force and what the mailbox takes. 404 outside the caller's scope."""
    return QuotaOut.from_usage(application.quotas.usage(principal, user_id))


@router.put(
    "/users/{user_id}/quota",
    response_model=QuotaOut,
    summary="Set a user's quota",
    responses=problem_responses(404, 422),
)
def set_quota(
    user_id: UserId, body: QuotaSet, principal: TenantAdmin, application: AppDep
) -> QuotaOut:
    """Sets the mailbox's own quota (a tenant admin: users of their own tenant only; 404
    otherwise). A full mailbox's mail is refused at RCPT with `452 4.2.2`; a message
    accepted before is delivered even if it crosses the quota. SMTP front-ends see a
    change within `smtp.recipient_cache_seconds`."""
    usage = application.quotas.set_quota(principal, user_id, body.quota_bytes)
    return QuotaOut.from_usage(usage)
