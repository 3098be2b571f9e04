"""API tokens, password log-in and the audit log.

``POST /auth/token`` is the one route without a bearer token: it exchanges a mailbox
user's password for a short-lived token (what the web UI uses); ``GET /auth/me`` tells any
valid token its role and permissions. Token secrets are shown
once, in the answer that creates them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from mairust.api.deps import (
    PUBLIC_MARK,
    AppDep,
    Reader,
    SignedIn,
    TenantAdmin,
    client_source,
    throttle_log_in,
)
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_access import (
    AuditOut,
    AuditPage,
    LogIn,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenOut,
    WhoAmI,
)
from mairust.services.tokens import IssuedToken, TokenRequest

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1",
    tags=["access"],
    responses=problem_responses(401, 503),
)

TokenId = Annotated[str, Path(min_length=1, max_length=64, description="A token id.")]


def _created(issued: IssuedToken) -> TokenCreated:
    return TokenCreated(**TokenOut.from_token(issued.token).model_dump(), token=issued.secret)


async def public() -> None:
    """Marks a route that needs no bearer token."""


setattr(public, PUBLIC_MARK, True)


@router.post(
    "/auth/token",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Log in: a short-lived token for a user's password",
    responses=problem_responses(422),
    dependencies=[Depends(public), Depends(throttle_log_in)],
)
def log_in(body: LogIn, request: Request, application: AppDep) -> TokenCreated:
    """A token valid for one hour, with the user's role and every permission of it. An
    unknown address and a wrong password get the same 401. Each client address may try
    `api.login_attempts_per_minute` times a minute (429 with `Retry-After` beyond)."""
    issued = application.tokens.log_in(
        body.address, body.password.get_secret_value(), client_source(request)
    )
    return _created(issued)


@router.get("/auth/me", response_model=WhoAmI, summary="Who this token is: role and permissions")
def who_am_i(principal: SignedIn) -> WhoAmI:
    """The role, permissions, tenant and mailbox of the bearer token, for any valid token
    (the web UI decides what to show from it)."""
    return WhoAmI.of(principal)


@router.get("/tokens", response_model=TokenList, summary="List API tokens")
def list_tokens(
    principal: Reader,
    application: AppDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 100,
    after: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="The `next` cursor of the previous page."),
    ] = None,
) -> TokenList:
    """The tokens in the caller's scope (a user: their own), never their secrets."""
    found = application.tokens.list_tokens(principal, limit=limit + 1, after=after)
    page = found[:limit]
    return TokenList(
        items=[TokenOut.from_token(t) for t in page],
        next=page[-1].id if len(found) > limit else None,
    )


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API token",
    responses=problem_responses(403, 404, 422),
)
def create_token(body: TokenCreate, principal: TenantAdmin, application: AppDep) -> TokenCreated:
    """A new token, at most the caller's role and permissions, inside the caller's tenant.
    The secret is in this answer only."""
    request = TokenRequest(
        name=body.name,
        permissions=frozenset(body.permissions),
        role=body.role,
        tenant_id=body.tenant_id,
        mailbox_id=body.mailbox_id,
        expires_at=body.expires_at,
    )
    return _created(application.tokens.issue(principal, request))


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenOut,
    summary="Revoke an API token",
    responses=problem_responses(404),
)
def revoke_token(token_id: TokenId, principal: Reader, application: AppDep) -> TokenOut:
    """The token stops working at once. A user may revoke their own tokens; others need
    the `admin` permission. Revoking twice keeps the first time."""
    return TokenOut.from_token(application.tokens.revoke(principal, token_id))


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Read the audit log",
    responses=problem_responses(403, 422),
)
def read_audit(
    principal: TenantAdmin,
    application: AppDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    before: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="The `next` cursor of the previous page."),
    ] = None,
) -> AuditPage:
    """Admin and tenant-admin actions, newest first (a tenant admin: their tenant's)."""
    records = application.audit.page(principal, limit=limit + 1, before=before)
    page = records[:limit]
    return AuditPage(
        items=[AuditOut.from_record(r) for r in page],
        next=page[-1].id if len(records) > limit else None,
    )
