"""The daily sending of TLS reports (RFC 8460): each day's once, the next day.

``TlsReportLoop.run_once`` sends the reports of the last day whose time has come (the
day before the current UTC day, from ``send_hour`` on) that were not claimed yet
(:func:`~mairust.outbound.tls_report_sender.send_tls_reports` claims each domain's report
in the store before sending it, so restarts and other processes never send one twice),
and forgets the counts older than ``keep_days``. ``run`` does it every ``poll_seconds``
under its supervisor; the clock and the sleep are injected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from mairust.errors import MairustError
from mairust.outbound.tls_report_sender import ReportSender, TlsReportSummary, send_tls_reports

log = logging.getLogger(__name__)

POLL_SECONDS = 300.0


def due_day(now: datetime, send_hour: int) -> date:
    """The last day whose reports may go out at ``now``: yesterday from ``send_hour``
    (UTC) on, the day before yesterday before it."""
    return (now.astimezone(UTC) - timedelta(hours=send_hour)).date() - timedelta(days=1)


class TlsReportLoop:
    def __init__(
        self,
        sender: ReportSender,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        """``sender.spool`` must be started by the caller; ``settings.enabled`` is the
        caller's to check (the loop sends whenever it runs)."""
        self._sender = sender
        self._clock = clock
        self._sleep = sleep
        self.poll_seconds = poll_seconds

    async def run_once(self) -> TlsReportSummary:
        now = self._clock()
        settings = self._sender.settings
        day = due_day(now, settings.send_hour)
        summary = await send_tls_reports(day, self._sender, now)
        if summary.sent or summary.failed:
            log.info(
                "TLS reports of %s: %d sent, %d with failed destinations",
                day,
                len(summary.sent),
                len(summary.failed),
            )
        oldest = day - timedelta(days=settings.keep_days - 1)
        await asyncio.to_thread(self._sender.store.delete_tls_results_before, oldest)
        return summary

    async def run(self, progress: Callable[[], None] = lambda: None) -> None:
        """Forever: the due day's reports not sent yet, then wait. A store that is down is
        waited out; anything else ends the run (its supervisor restarts it)."""
        while True:
            try:
                await self.run_once()
            except MairustError as error:
                log.warning("TLS reports wait: %s", error)
            else:
                progress()
            await self._sleep(self.poll_seconds)
