"""The API's side of regions: a tenant-scoped call for a tenant homed in another region
is answered 307 with ``Location`` at the home region's API (its ``api_url`` in the regions
config, the same path and query), a problem+json body saying so.

Every region has a row for every tenant (mairust.regions), so the home is read here; it is
remembered per tenant, since a home is set when the tenant is made and not changed by the
API. 307 (not 301/302) keeps the method and body: a client that follows it sends the same
request to the home region. A token is known in the region that issued it; a tenant's own
tokens are made at its home, so this redirect mostly serves tokens a region copied in
and the platform admin's calls.
"""

from __future__ import annotations

import asyncio

from fastapi import Request

from mairust.api.problems import ProblemError, ProblemKind
from mairust.errors import InvalidInput
from mairust.model.principal import Principal
from mairust.model.scope import TenantScope
from mairust.regions import Regions
from mairust.storage.protocols.directory import DirectoryStore

HOMED_ELSEWHERE = ProblemKind("homed-elsewhere", "The tenant's home is another region", 307)


class HomeRedirects:
    """Which tenants this region's API redirects, and where to."""

    def __init__(self, regions: Regions | None, directory: DirectoryStore) -> None:
        self._regions = regions
        self._directory = directory
        self._homes: dict[str, str | None] = {}

    def check_home(self, home: str | None) -> None:
        """InvalidInput unless ``home`` is None or a configured region."""
        if home is None:
            return
        if self._regions is None:
            raise InvalidInput("home_region needs a regions config ([regions] file)")
        try:
            self._regions.check_home(home)
        except ValueError as error:
            raise InvalidInput(str(error)) from error

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
        location = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise ProblemError(
            HOMED_ELSEWHERE,
            f"this tenant's home is another region: send the request to {location}",
            {"Location": location},
        )

    async def _home(self, tenant_id: str) -> str | None:
        if tenant_id not in self._homes:
            tenant = await asyncio.to_thread(self._directory.get_tenant, tenant_id)
            self._homes[tenant_id] = None if tenant is None else tenant.home_region
        return self._homes[tenant_id]
