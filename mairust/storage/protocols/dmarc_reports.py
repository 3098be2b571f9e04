"""DMARC aggregate reports: those received for our domains, and what the ones we send
are made of.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mairust.model.dmarc_reports import InboundAuth, StoredReport


class DmarcReportStore(Protocol):
    def add_dmarc_report(self, report: StoredReport) -> bool:
        """Keep a received report; False (nothing changed) when its domain already has a
        report of that org and report id."""
        ...

    def list_dmarc_reports(
        self, domain: str, limit: int = 100, after: str | None = None
    ) -> list[StoredReport]:
        """A domain's reports, the newest received first; ``after``: the last id of the
        previous page."""
        ...

    def inbound_auth_results(
        self, begin: datetime, end: datetime, limit: int = 1000, after: str | None = None
    ) -> list[InboundAuth]:
        """Messages received in [begin, end) from outside (not submitted by our users)
        that carry authentication results, and the ones refused at DATA for DMARC whose
        Rejection events kept theirs (``refused``; once per transaction, whatever its
        tenants), by id; ``after``: the previous page's last id."""
        ...

    def claim_dmarc_period(self, period_end: datetime, claimed_at: datetime) -> bool:
        """Claim the period ending at ``period_end`` for sending its reports; False when
        it was claimed before (by this process or another)."""
        ...
