"""The periodic sending of DMARC aggregate reports: each period's once, on its own.

``DmarcReportLoop.run_once`` sends the reports of the last full period
(:func:`last_period_end`) unless that period was claimed already: the claim
(:meth:`DmarcReportStore.claim_dmarc_period`) comes first, in the store, so a restart, a
second process or the CLI never sends a period twice. The price: a period whose sending
fails after its claim (the spool refuses) is not sent again; that is logged. ``run`` does
it every ``poll_seconds`` under its supervisor; the clock and the sleep are injected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from mairust.auth.dns import Resolver
from mairust.config import DmarcReportSettings
from mairust.errors import MairustError
from mairust.outbound.dmarc_report_sender import ReportStore, SendSummary, send_aggregate_reports
from mairust.outbound.signing import SignerLookup
from mairust.spool import Spool

log = logging.getLogger(__name__)

MAX_POLL_SECONDS = 600.0


def last_period_end(now: datetime, interval_seconds: float) -> datetime:
    """The end of the last full period; periods are aligned on the epoch (a day's on
    midnight UTC)."""
    step = int(interval_seconds)
    return datetime.fromtimestamp(int(now.timestamp()) // step * step, UTC)


async def send_period_once(
    period_end: datetime,
    *,
    store: ReportStore,
    spool: Spool,
    resolver: Resolver,
    settings: DmarcReportSettings,
    now: datetime,
    signer_for: SignerLookup | None = None,
) -> SendSummary | None:
    """Claim the period, then send its reports; None when it was claimed before."""
    claimed = await asyncio.to_thread(store.claim_dmarc_period, period_end, now)
    if not claimed:
        return None
    try:
        return await send_aggregate_reports(
            period_end,
            store=store,
            spool=spool,
            resolver=resolver,
            settings=settings,
            signer_for=signer_for,
        )
    except MairustError:
        log.error("DMARC reports of the period ending %s were not all sent", period_end)
        raise


class DmarcReportLoop:
    def __init__(
        self,
        store: ReportStore,
        spool: Spool,
        resolver: Resolver,
        settings: DmarcReportSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        signer_for: SignerLookup | None = None,
    ) -> None:
        """``spool`` must be started by the caller; ``settings.enabled`` is the caller's
        to check (the loop sends whenever it runs); ``signer_for`` DKIM-signs the reports."""
        self._store = store
        self._spool = spool
        self._resolver = resolver
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._signer_for = signer_for
        self.poll_seconds = min(settings.interval_seconds / 4, MAX_POLL_SECONDS)

    async def run_once(self) -> SendSummary | None:
        now = self._clock()
        end = last_period_end(now, self._settings.interval_seconds)
        summary = await send_period_once(
            end,
            store=self._store,
            spool=self._spool,
            resolver=self._resolver,
            settings=self._settings,
            now=now,
            signer_for=self._signer_for,
        )
        if summary is not None:
            log.info(
                "DMARC reports of the period ending %s: %d queued, %d domains without",
                end,
                len(summary.sent),
                len(summary.skipped),
            )
        return summary

    async def run(self, progress: Callable[[], None] = lambda: None) -> None:
        """Forever: the last full period's reports if not sent yet, then wait. A store
        that is down is waited out; anything else ends the run (its supervisor restarts it)."""
        while True:
            try:
                await self.run_once()
            except MairustError as error:
                log.warning("DMARC reports wait: %s", error)
            else:
                progress()
            await self._sleep(self.poll_seconds)
