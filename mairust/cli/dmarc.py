"""``mairust dmarc report [--send]``: the DMARC aggregate reports of the last full period.

Built from the auth results of the mail received in the period, one per domain whose
DMARC record asks for reports (``rua=mailto:``), as ``[dmarc_reports]`` configures
(:mod:`mairust.outbound.dmarc_report_sender`). Without ``--send`` it lists what would go;
with it the reports are committed to the spool as outbound mail (DKIM-signed when the
sender's domain has keys), which the running
platform's delivery loop sends. A period is sent once: the period is claimed in the store
first, so running it again (or the platform's own report loop) sends nothing more.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from mairust.auth.dns_resolver import CachingResolver
from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    opened_stores,
    reported_errors,
    settings_from,
)
from mairust.config import DmarcReportSettings
from mairust.errors import InvalidInput
from mairust.outbound.dkim_signers import DkimSigners
from mairust.outbound.dmarc_report_loop import last_period_end, send_period_once
from mairust.outbound.dmarc_report_sender import (
    ReportStore,
    SendSummary,
    build_aggregate_reports,
)
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.spool import Spool
from mairust.storage.stores import Stores

dmarc_app = typer.Typer(help="DMARC aggregate reports we send to the domains that ask for them.")
console = Console()


@dmarc_app.command("report")
def report(
    send: Annotated[
        bool, typer.Option("--send", help="Queue the reports (default: only list them).")
    ] = False,
    period_end: Annotated[
        datetime | None,
        typer.Option(help="End of the period to report (UTC; default: the last full one)."),
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Build the period's aggregate reports; with --send, queue them as outbound mail."""
    settings = settings_from(data_dir, config)
    with reported_errors(), opened_stores(settings) as stores:
        wanted = settings.dmarc_reports
        if not wanted.enabled:
            raise InvalidInput(
                "DMARC reports are not enabled (dmarc_reports.enabled in the config)"
            )
        end = period_end or last_period_end(datetime.now(UTC), wanted.interval_seconds)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        dns = settings.dns
        resolver = CachingResolver.from_settings(dns)
        if send:
            vault = SecretVault(stores.metadata, load_keyring(settings))
            signers = DkimSigners.from_settings(stores.metadata, vault, settings.dkim)
            summary = asyncio.run(_send(stores, resolver, wanted, end, signers))
            if summary is None:
                console.print(f"the period ending {end.isoformat()} was reported already")
                return
            for domain in summary.sent:
                console.print(f"queued: report for {domain}")
            for domain in summary.skipped:
                console.print(f"no report: {domain} (no rua, or its lookup failed)")
            return
        reports, skipped = build_aggregate_reports(stores.metadata, resolver, wanted, end)
        for outgoing in reports:
            aggregate = outgoing.report
            console.print(
                f"would send: {outgoing.domain} to {', '.join(outgoing.recipients)}: "
                f"{aggregate.messages} messages, {aggregate.passed} passed, "
                f"{aggregate.failed} failed"
            )
        for domain in skipped:
            console.print(f"no report: {domain} (no rua, or its lookup failed)")


async def _send(
    stores: Stores,
    resolver: CachingResolver,
    settings: DmarcReportSettings,
    end: datetime,
    signers: DkimSigners,
) -> SendSummary | None:
    store: ReportStore = stores.metadata
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    try:
        return await send_period_once(
            end,
            store=store,
            spool=spool,
            resolver=resolver,
            settings=settings,
            now=datetime.now(UTC),
            signer_for=signers.signer_for,
        )
    finally:
        await spool.stop()
