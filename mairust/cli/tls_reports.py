"""``mairust tls-reports report [--send] [--day D]``: a day's TLS reports (RFC 8460).

Lists, per policy domain, the day's TLS sessions and failures the delivery loops counted
in the store, and whether its report went out (and where); with ``--send`` the reports
not sent yet go out as ``[tls_reports]`` configures
(:mod:`mairust.outbound.tls_report_sender`): mailto: ones queued as outbound mail, which
the running platform's delivery loop sends, https: ones POSTed now. Each (day, domain)
goes once: it is claimed in the store first, so running it again (or the platform's own
report loop) sends nothing more. The default day is the last whose time has come.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime
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
from mairust.config import Settings
from mairust.errors import InvalidInput
from mairust.model.tls_reports import SUCCESS
from mairust.outbound.dkim_signers import DkimSigners
from mairust.outbound.tls_report_loop import due_day
from mairust.outbound.tls_report_sender import (
    ReportSender,
    TlsReportSummary,
    report_http_client,
    send_tls_reports,
)
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.spool import Spool
from mairust.storage.stores import Stores

tls_reports_app = typer.Typer(help="TLS reports (RFC 8460) we send to the domains that ask.")
console = Console()


@tls_reports_app.command("report")
def report(
    send: Annotated[
        bool, typer.Option("--send", help="Send the reports not sent yet (default: list).")
    ] = False,
    day: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="The UTC day (default: the last one due)."),
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List a day's TLS results by policy domain; with --send, send its reports."""
    settings = settings_from(data_dir, config)
    with reported_errors(), opened_stores(settings) as stores:
        wanted = settings.tls_reports
        if not wanted.enabled:
            raise InvalidInput("TLS reports are not enabled (tls_reports.enabled in the config)")
        when = day.date() if day is not None else due_day(datetime.now(UTC), wanted.send_hour)
        if send:
            summary = asyncio.run(_send(stores, settings, when))
            for domain, reached in summary.sent.items():
                console.print(f"sent: report for {domain} to {', '.join(reached)}")
            for domain, missed in summary.failed.items():
                console.print(f"failed: report for {domain} to {', '.join(missed)}")
            for domain in summary.without_record:
                console.print(f"no report: {domain} (no TLSRPT record)")
            for domain in summary.postponed:
                console.print(f"postponed: {domain} (its DNS lookup failed)")
            return
        successes: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for count in stores.metadata.tls_results(when):
            tally = successes if count.key.result_type == SUCCESS else failures
            tally[count.key.policy_domain] += count.count
        sent = {r.policy_domain: r for r in stores.metadata.sent_tls_reports(when)}
        for domain in sorted(successes.keys() | failures.keys()):
            line = f"{when}: {domain}: {successes[domain]} over TLS, {failures[domain]} failed"
            claimed = sent.get(domain)
            if claimed is not None:
                line += f"; reported to {', '.join(claimed.destinations) or 'nobody'}"
            console.print(line)


async def _send(stores: Stores, settings: Settings, day: date) -> TlsReportSummary:
    dns = settings.dns
    resolver = CachingResolver.from_settings(dns)
    vault = SecretVault(stores.metadata, load_keyring(settings))
    signers = DkimSigners.from_settings(stores.metadata, vault, settings.dkim)
    spool = Spool(stores.metadata, stores.blobs)
    http = report_http_client(settings.tls_reports, resolver, settings.outbound_tls.ca_file)
    await spool.start()
    try:
        sender = ReportSender(
            stores.metadata,
            spool,
            resolver,
            http,
            settings.tls_reports,
            signer_for=signers.signer_for,
        )
        return await send_tls_reports(day, sender)
    finally:
        await http.aclose()
        await spool.stop()
