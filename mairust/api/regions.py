"""The API's side of regions: a tenant-scoped call for a tenant homed in another region
is answered 307 with ``Location`` at the home region's API (its ``api_url`` in the regions
config, the same path and query), a problem+json body saying so.

Every region has a row for every tenant (mairust.regions), so the home is read here; it is
remembered per tenant for :data:`HOME_CACHE_SECONDS` (a home changed by ``PATCH
/api/v1/tenants/...`` or ``mairust tenant set`` counts in every API process after that).

A bearer token naming another region (``mrt_<region>_...``, issued there) is answered 307
to that region's API before any lookup: the directory is not replicated, so this region
cannot check it (docs/scale-out/regions.md says why this is safe).

307 (not 301/302) keeps the method and body: a client that follows it sends the same
request to the home region.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fastapi import Request

from mairust.api.problems import ProblemError, ProblemKind
from mairust.model.principal import Principal
from mairust.model.scope import TenantScope
from mairust.regions import Regions
from mairust.services.tokens import issuing_region
from mairust.storage.protocols.directory import DirectoryStore

HOMED_ELSEWHERE = ProblemKind("homed-elsewhere", "The tenant's home is another region", 307)
ISSUED_ELSEWHERE = ProblemKind(
    "token-of-another-region", "The token was issued by another region", 307
)
# How long an API process keeps a tenant's home before reading it again.
HOME_CACHE_SECONDS = 30.0


class HomeRedirects:
    """Which tenants this region's API redirects, and where to."""

    def __init__(
        self,
        regions: Regions | None,
        directory: DirectoryStore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._regions = regions
        self._directory = directory
        self._clock = clock
        # tenant id -> (when read, its home)
        self._homes: dict[str, tuple[float, str | None]] = {}

    def check_token(self, request: Request, secret: str) -> None:
        """Raise the 307 problem when the bearer token ``secret`` names another configured
        region (``mrt_<region>_...``): only that region can check it. Nothing is looked up,
        so the answer tells nothing about the token; the target is that region's
        ``api_url`` from the regions config, never anything the request says."""
        region = issuing_region(secret)
        if self._regions is None or region is None or not self._regions.is_remote(region):
            return
        try:
            base = self._regions.region(region).api_url.rstrip("/")
        except KeyError:
            return  # no region of that name: the token is checked here (and refused)
        location = _same_request_at(base, request)
        raise ProblemError(
            ISSUED_ELSEWHERE,
            f"this token was issued by region {region}: send the request to {location}",
            {"Location": location},
        )

    async def check(self, request: Request, principal: Principal) -> None:
        """Raise the 307 problem when ``principal``'s tenant is homed in another region."""
        scope = principal.scope
        if self._regions is None or not isinstance(scope, TenantScope):
            return
        try:
            base = self._regions.api_url_for(await self._home(scope.tenant_id))
        except KeyError:  # a home this config does not name: answered here (routing logs it)
            return
        if base is None:
            return
        location = _same_request_at(base, request)
        raise ProblemError(
            HOMED_ELSEWHERE,
            f"this tenant's home is another region: send the request to {location}",
            {"Location": location},
        )

    async def _home(self, tenant_id: str) -> str | None:
        known = self._homes.get(tenant_id)
        if known is not None and self._clock() - known[0] < HOME_CACHE_SECONDS:
            return known[1]
        tenant = await asyncio.to_thread(self._directory.get_tenant, tenant_id)
        home = None if tenant is None else tenant.home_region
        self._homes[tenant_id] = (self._clock(), home)
        return home


def _same_request_at(base: str, request: Request) -> str:
    """The request's path and query at the API ``base`` (a configured ``api_url``)."""
    return base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
