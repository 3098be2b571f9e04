"""The DMARC aggregate reports received for a tenant's domains, as its admins read them.

Reports arrive as mail and are kept by the pipeline's ``dmarc_reports`` stage; here they
are only read: a domain of the caller's own tenant (another tenant's domain is a
NotFound, like a missing one), newest first, in pages.
"""

from __future__ import annotations

from mairust.model.dmarc_reports import StoredReport
from mairust.model.principal import Permission, Principal, Role
from mairust.services.access import require
from mairust.services.directory import DirectoryService
from mairust.storage.protocols import DmarcReportStore

MAX_PAGE = 100


class DmarcReportService:
    def __init__(self, directory: DirectoryService, store: DmarcReportStore) -> None:
        self._directory = directory
        self._store = store

    def reports(
        self, principal: Principal, domain: str, limit: int = 50, after: str | None = None
    ) -> list[StoredReport]:
        """The reports received for ``domain`` (tenant admins, own domains)."""
        require(principal, Permission.READ, Role.TENANT_ADMIN)
        owned = self._directory.own_domain(principal, domain)
        return self._store.list_dmarc_reports(owned.name, min(limit, MAX_PAGE), after)
