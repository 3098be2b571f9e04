"""FastAPI dependencies of the routes, as ``Annotated`` aliases.

Routes ask for what they need by type: the :class:`~mairust.services.application.Application`
(``AppDep``) and the caller (``Caller``). Authentication turns the bearer token into a
:class:`~mairust.model.principal.Principal`: the operator's admin token (``api.admin_token``)
is the platform admin; any other token is looked up by the token service.

Every route under ``/api/v1`` declares what it needs with :func:`allowed` (a permission and
the least role); ``tests/mairust/api/test_route_permissions.py`` fails for a route that
does not, so no endpoint is reachable by accident. The services check again: the route's
declaration is the contract a client reads in the OpenAPI document, the service's check is
the rule.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mairust.api.metrics import ApiMetrics
from mairust.api.problems import UNAUTHORIZED, ProblemError
from mairust.api.rate_limit import RateLimits
from mairust.api.regions import HomeRedirects
from mairust.config import Settings
from mairust.model.principal import Permission, Principal, Role
from mairust.services.access import require
from mairust.services.application import Application
from mairust.storage.stores import Stores

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`mrt_…`), a login token from `POST /api/v1/auth/token`, or "
    "the operator's admin token (`api.admin_token` / `MAIRUST_ADMIN_TOKEN`).",
)
# Marks the dependency functions made by `allowed`, so a test can find routes without one.
PERMISSION_MARK = "__mairust_permission__"
# Marks the one kind of route that needs no token (log-in).
PUBLIC_MARK = "__mairust_public__"


# Dependencies that do no I/O are async: FastAPI would run sync ones in AnyIO's threads.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


async def get_application(request: Request) -> Application:
    application: Application = request.app.state.application
    return application


async def get_api_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoresDep = Annotated[Stores, Depends(get_stores)]
AppDep = Annotated[Application, Depends(get_application)]
ApiMetricsDep = Annotated[ApiMetrics, Depends(get_api_metrics)]


def client_source(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def authenticate(
    request: Request,
    settings: SettingsDep,
    application: AppDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the caller's bearer token; 401 if missing, unknown or expired,
    429 when the token is over its rate (``api.rate_limit_per_second``).

    A token found within ``api.token_cache_seconds`` costs no store read and no hop to a
    route thread; any other is looked up on one (the store is blocking).
    """
    if credentials is None:
        # No credentials at all: the challenge names the scheme only (RFC 6750 §3).
        raise ProblemError(
            UNAUTHORIZED, "Send 'Authorization: Bearer <token>'.", {"WWW-Authenticate": "Bearer"}
        )
    source = client_source(request)
    admin_token = settings.api.admin_token
    # Constant-time comparison; with no admin token configured no token matches it.
    if admin_token is not None and hmac.compare_digest(
        credentials.credentials.encode(), admin_token.get_secret_value().encode()
    ):
        principal = Principal.platform("admin-token", source)
    else:
        tokens = application.tokens
        secret = credentials.credentials
        # A token another region issued is checked there: 307 to its API, no lookup here.
        homes: HomeRedirects = request.app.state.home_redirects
        homes.check_token(request, secret)
        known = tokens.known_principal(secret, source)
        if known is None:
            known = await asyncio.to_thread(tokens.authenticate, secret, source)
        principal = known
    # The one place every authenticated request passes: limited by token id ("token:<id>",
    # "admin-token"), never by the secret in the header. Unknown tokens got 401 above.
    limits: RateLimits = request.app.state.rate_limits
    limits.check_token(principal.actor)
    # A tenant homed in another region is answered there (307, mairust.api.regions).
    redirects: HomeRedirects = request.app.state.home_redirects
    await redirects.check(request, principal)
    return principal


async def throttle_log_in(request: Request) -> None:
    """429 when the client's address tried to log in too often (slows password guessing)."""
    limits: RateLimits = request.app.state.rate_limits
    limits.check_log_in(client_source(request))


Caller = Annotated[Principal, Depends(authenticate)]


def allowed(
    permission: Permission, role: Role = Role.USER
) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller, if their token holds ``permission`` and at least ``role``
    (403 otherwise). Every ``/api/v1`` route declares one."""

    async def check(principal: Caller) -> Principal:
        require(principal, permission, role)
        return principal

    setattr(check, PERMISSION_MARK, (permission, role))
    return check


async def signed_in(principal: Caller) -> Principal:
    """Any valid token, whatever it may do: for the one route that tells a token who it is."""
    return principal


# No permission is needed, only a valid token of any role.
setattr(signed_in, PERMISSION_MARK, (None, Role.USER))

SignedIn = Annotated[Principal, Depends(signed_in)]
Reader = Annotated[Principal, Depends(allowed(Permission.READ))]
Writer = Annotated[Principal, Depends(allowed(Permission.WRITE))]
Sender = Annotated[Principal, Depends(allowed(Permission.SEND))]
TenantAdmin = Annotated[Principal, Depends(allowed(Permission.ADMIN, Role.TENANT_ADMIN))]
PlatformAdmin = Annotated[Principal, Depends(allowed(Permission.ADMIN, Role.ADMIN))]
PlatformReader = Annotated[Principal, Depends(allowed(Permission.READ, Role.ADMIN))]
