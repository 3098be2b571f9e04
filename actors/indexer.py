"""Indexer actor: drains the durable search backlog while the search role is reachable,
and purges Trash and Junk past their retention, plugin calls past
``hooks.call_log_days`` from their logs, and plugins' expired key/value state (the
retention loop).

Each loop runs under its own Supervisor: a store that is down is an ordinary wait
(logged, tried again next round); any other error is logged with its traceback and the
loop restarts with backoff; a loop that keeps failing exits the actor, and Ray restarts
it. The retention loop runs every ``mailbox.expire_interval_seconds`` (0: not at all),
first at start-up; a purge removes the search documents too, so it lives beside the
search backlog. With ``[dmarc_reports] enabled``, a third loop sends each period's DMARC
aggregate reports once (:class:`~mairust.outbound.dmarc_report_loop.DmarcReportLoop`,
through a spool of its own): one indexer runs per cluster, and the period claim in the
store keeps a restarted one from sending a period twice. With ``[tls_reports] enabled``,
another sends each day's TLS reports (RFC 8460) once
(:class:`~mairust.outbound.tls_report_loop.TlsReportLoop`), from the counts the delivery
loops write to the store, by mail through a spool of its own and by https through the
guarded HTTP client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import ray

from actors.supervised import loop_report, start_supervised
from mairust.auth.dns_resolver import CachingResolver
from mairust.config import Settings
from mairust.errors import MairustError
from mairust.log_format import configure_logging
from mairust.outbound.dkim_signers import DkimSigners
from mairust.outbound.dmarc_report_loop import DmarcReportLoop
from mairust.outbound.tls_report_loop import TlsReportLoop
from mairust.outbound.tls_report_sender import ReportSender, report_http_client
from mairust.search.indexing import drain_search_backlog
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.services.mailboxes import MailboxService
from mairust.services.plugins import expire_plugin_calls, sweep_expired_plugin_state
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.supervision import Backoff, Supervisor

_log = logging.getLogger(__name__)

INDEXER_LOOP = "search backlog loop"
INDEXER_BACKOFF = Backoff(give_up_after=8)
RETENTION_LOOP = "retention loop"
DMARC_REPORT_LOOP = "dmarc report loop"
TLS_REPORT_LOOP = "tls report loop"


class IndexerHost:
    """Every ``cluster.search_backlog_interval`` seconds, index what the backlog holds;
    every ``mailbox.expire_interval_seconds``, purge expired Trash and Junk."""

    # Ray runs an async __init__ on the actor's loop (again after a restart).
    async def __init__(self, settings: Settings) -> None:  # type: ignore[misc]
        configure_logging(settings.log_level, settings.log_format)
        self._stores = open_stores(settings.storage)
        self._interval = settings.cluster.search_backlog_interval
        self.indexed = 0
        self._wake = asyncio.Event()
        self._supervisor = Supervisor(INDEXER_LOOP, self._run, INDEXER_BACKOFF)
        self._tasks = [start_supervised(self._supervisor)]
        self._mailboxes = MailboxService(self._stores, settings.mailbox)
        self._call_log_days = settings.hooks.call_log_days
        self.calls_forgotten = 0
        self._expire_interval = settings.mailbox.expire_interval_seconds
        self.expired = 0
        self._retention: Supervisor | None = None
        if self._expire_interval > 0:
            self._retention = Supervisor(RETENTION_LOOP, self._run_retention, INDEXER_BACKOFF)
            self._tasks.append(start_supervised(self._retention))
        self._dmarc: Supervisor | None = None
        self._dmarc_spool: Spool | None = None
        if settings.dmarc_reports.enabled:
            self._dmarc_spool = Spool(self._stores.metadata, self._stores.blobs)
            await self._dmarc_spool.start()
            dns = settings.dns
            resolver = CachingResolver.from_settings(dns)
            vault = SecretVault(self._stores.metadata, load_keyring(settings))
            signers = DkimSigners.from_settings(self._stores.metadata, vault, settings.dkim)
            self._dmarc_loop = DmarcReportLoop(
                self._stores.metadata,
                self._dmarc_spool,
                resolver,
                settings.dmarc_reports,
                signer_for=signers.signer_for,
            )
            self._dmarc = Supervisor(DMARC_REPORT_LOOP, self._run_dmarc, INDEXER_BACKOFF)
            self._tasks.append(start_supervised(self._dmarc))
        self._tls: Supervisor | None = None
        self._tls_spool: Spool | None = None
        self._tls_sender: ReportSender | None = None
        if settings.tls_reports.enabled:
            self._tls_sender = await self._tls_report_sender(settings)
            self._tls_loop = TlsReportLoop(self._tls_sender)
            self._tls = Supervisor(TLS_REPORT_LOOP, self._run_tls_reports, INDEXER_BACKOFF)
            self._tasks.append(start_supervised(self._tls))

    async def _tls_report_sender(self, settings: Settings) -> ReportSender:
        self._tls_spool = Spool(self._stores.metadata, self._stores.blobs)
        await self._tls_spool.start()
        dns = settings.dns
        resolver = CachingResolver.from_settings(dns)
        vault = SecretVault(self._stores.metadata, load_keyring(settings))
        signers = DkimSigners.from_settings(self._stores.metadata, vault, settings.dkim)
        return ReportSender(
            self._stores.metadata,
            self._tls_spool,
            resolver,
            report_http_client(settings.tls_reports, resolver, settings.outbound_tls.ca_file),
            settings.tls_reports,
            signer_for=signers.signer_for,
        )

    async def _run(self) -> None:
        while True:
            try:
                done = await asyncio.to_thread(drain_search_backlog, self._stores)
            except MairustError as error:  # search or metadata still down: next round
                _log.info("search backlog waits: %s", error)
                done = 0
            else:
                self._supervisor.progress()
            if done:
                self.indexed += done
                _log.info("indexed %d entries from the search backlog", done)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()

    async def _run_retention(self) -> None:
        assert self._retention is not None
        while True:
            now = datetime.now(UTC)
            try:
                report = await asyncio.to_thread(self._mailboxes.expire, now)
                forgotten = await asyncio.to_thread(
                    expire_plugin_calls, self._stores.metadata, now, self._call_log_days
                )
                swept = await asyncio.to_thread(
                    sweep_expired_plugin_state, self._stores.metadata, now
                )
            except MairustError as error:  # a store is down: next round
                _log.info("retention waits: %s", error)
            else:
                self._retention.progress()
                purged = report.trash + report.junk
                self.expired += purged
                self.calls_forgotten += forgotten
                if purged:
                    _log.info(
                        "retention purged %d from Trash and %d from Junk (%d bodies deleted)",
                        report.trash,
                        report.junk,
                        report.blobs_deleted,
                    )
                if forgotten:
                    _log.info("retention forgot %d plugin calls from their logs", forgotten)
                if swept:
                    _log.info("retention swept %d expired plugin state entries", swept)
            await asyncio.sleep(self._expire_interval)

    async def _run_dmarc(self) -> None:
        assert self._dmarc is not None
        await self._dmarc_loop.run(self._dmarc.progress)

    async def _run_tls_reports(self) -> None:
        assert self._tls is not None
        await self._tls_loop.run(self._tls.progress)

    async def drain_now(self) -> None:
        """Wake the loop (tests, and operators after an outage)."""
        self._wake.set()

    async def stats(self) -> dict[str, int]:
        backlog = await asyncio.to_thread(self._stores.metadata.search_backlog_size)
        restarts = self._supervisor.restarts
        return {
            "indexed": self.indexed,
            "backlog": backlog,
            "loop_restarts": restarts,
            "expired": self.expired,
            "calls_forgotten": self.calls_forgotten,
            "retention_restarts": self._retention.restarts if self._retention else 0,
        }

    async def backlog_loop(self) -> dict[str, Any]:
        """The supervisor's view of the drain loop: restarts, last error, progress age."""
        return loop_report(self._supervisor.state)

    async def retention_loop(self) -> dict[str, Any] | None:
        """The retention loop's supervisor view; None when it is turned off."""
        return loop_report(self._retention.state) if self._retention else None

    async def stop(self) -> None:
        self._supervisor.stop()
        if self._retention is not None:
            self._retention.stop()
        if self._dmarc is not None:
            self._dmarc.stop()
        if self._tls is not None:
            self._tls.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._dmarc_spool is not None:
            await self._dmarc_spool.stop()
        if self._tls_spool is not None:
            await self._tls_spool.stop()
        if self._tls_sender is not None:
            await self._tls_sender.http.aclose()
        self._stores.close()


IndexerActor = ray.remote(num_cpus=0, max_restarts=-1)(IndexerHost)
