"""TLS-RPT (RFC 8460): the day's TLS counts every delivery loop adds to, and the reports
sent from them.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from mairust.model.tls_reports import SentTlsReport, TlsResultCount


class TlsReportStore(Protocol):
    def add_tls_results(self, counts: Sequence[TlsResultCount]) -> None:
        """Add each count to its key's row of its day (created at 0); the keys of one call
        are distinct. All of them or none."""
        ...

    def tls_results(self, day: date) -> list[TlsResultCount]:
        """Every count of ``day``."""
        ...

    def claim_tls_report(self, report: SentTlsReport) -> bool:
        """Record that ``report`` (its day and policy domain) is being sent; False when
        that day's report of that domain was claimed before (by anyone)."""
        ...

    def sent_tls_reports(self, day: date) -> list[SentTlsReport]:
        """The reports of ``day`` claimed so far, by policy domain."""
        ...

    def delete_tls_results_before(self, day: date) -> int:
        """Forget the counts and sent reports of the days before ``day``; how many count
        rows went."""
        ...
