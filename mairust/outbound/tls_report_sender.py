"""Sending one day's TLS reports (RFC 8460) to the policy domains that ask for them.

For each policy domain with counts on the day (:meth:`TlsReportStore.tls_results`) and
no report claimed yet: its ``_smtp._tls.<domain>`` TXT record is looked up through the
resolver (a DNS failure skips the domain this time; the next run tries again), the §4
JSON report is built and gzip'd, the (day, domain) is claimed in the store — before
anything is sent, so a restart, a second process or a retry never sends it twice; the
price is that a report whose sending fails after its claim is not sent again (logged) —
and then it goes to every ``rua``:

- ``mailto:``: one message to all of them, committed through the spool like any
  outbound mail (§5.3: ``TLS-Report-Domain`` and ``TLS-Report-Submitter`` headers, the
  subject ``Report Domain: … Submitter: … Report-ID: <…>``, ``multipart/report;
  report-type="tlsrpt"`` with the report as an ``application/tlsrpt+gzip`` attachment
  named ``submitter!domain!begin!end.json.gz``), DKIM-signed when the sender's domain has
  keys (given a signer lookup);
- ``https:``: a POST of the gzip'd report as ``application/tlsrpt+gzip`` (§5.4) through
  the guarded HTTP client (address guard, bounded time and size, no redirects); any 2xx
  is taken.

A domain without a usable record is claimed with no destinations (not looked up again).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol

from mairust.auth.dns import DnsTempError, NxDomain, Resolver
from mairust.config import TlsReportSettings
from mairust.model.address import domain_of
from mairust.model.message import Envelope
from mairust.model.outbound import RemoteRecipient
from mairust.model.tls_reports import SentTlsReport, TlsResultCount
from mairust.net.address_guard import AddressPolicy, OutgoingRequestError
from mairust.net.host_resolver import record_resolver
from mairust.net.http_client import ClientLimits, SafeHttpClient
from mairust.outbound.signing import SignerLookup, signed_submission
from mairust.outbound.tls_report_json import (
    day_range,
    mailto_address,
    parse_tlsrpt_record,
    report_gzip,
    report_id_for,
    report_json,
)
from mairust.spool import Spool
from mairust.storage.protocols import DirectoryStore, TlsReportStore

log = logging.getLogger(__name__)

SUBMITTER = "tls-reports"  # the envelope's authenticated_as: our reports are no input
CONTENT_TYPE = "application/tlsrpt+gzip"


class ReportStore(TlsReportStore, DirectoryStore, Protocol):
    """What the sender reads and writes: the day's counts, the claims, our domains."""


@dataclass(frozen=True, slots=True)
class TlsReportSummary:
    day: date
    sent: dict[str, tuple[str, ...]] = field(default_factory=dict)  # domain → ruas reached
    failed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # domain → ruas not
    without_record: tuple[str, ...] = ()  # domains that ask for no reports
    postponed: tuple[str, ...] = ()  # DNS failed: tried again next run


@dataclass(frozen=True, slots=True)
class ReportSender:
    """What sending needs besides the day: where the mail goes, how https goes."""

    store: ReportStore
    spool: Spool
    resolver: Resolver
    http: SafeHttpClient
    settings: TlsReportSettings
    signer_for: SignerLookup | None = None


async def send_tls_reports(
    day: date, sender: ReportSender, now: datetime | None = None
) -> TlsReportSummary:
    """The day's reports not sent yet (see the module docstring). StorageUnavailable when
    the store is down (the reports sent before it stay sent)."""
    store = sender.store
    counts = await asyncio.to_thread(store.tls_results, day)
    claimed = {r.policy_domain for r in await asyncio.to_thread(store.sent_tls_reports, day)}
    by_domain: dict[str, list[TlsResultCount]] = defaultdict(list)
    for count in counts:
        if count.key.policy_domain not in claimed:
            by_domain[count.key.policy_domain].append(count)
    sent: dict[str, tuple[str, ...]] = {}
    failed: dict[str, tuple[str, ...]] = {}
    without: list[str] = []
    postponed: list[str] = []
    for domain, domain_counts in sorted(by_domain.items()):
        try:
            records = await asyncio.to_thread(sender.resolver.lookup, f"_smtp._tls.{domain}", "TXT")
        except NxDomain:
            records = ()
        except DnsTempError as error:
            log.info("TLS report of %s for %s postponed: %s", day, domain, error)
            postponed.append(domain)
            continue
        ruas = parse_tlsrpt_record(records) or ()
        settings = sender.settings
        report_id = report_id_for(day, domain, settings.org_name)
        claim = SentTlsReport(day, domain, report_id, ruas, now or datetime.now(UTC))
        if not await asyncio.to_thread(store.claim_tls_report, claim):
            continue  # another process took it meanwhile
        if not ruas:
            without.append(domain)
            continue
        report = report_json(
            day,
            domain,
            domain_counts,
            org_name=settings.org_name,
            contact=settings.contact or settings.sender,
            report_id=report_id,
        )
        reached, missed = await _deliver(sender, day, domain, report, ruas)
        if reached:
            sent[domain] = reached
        if missed:
            failed[domain] = missed
    return TlsReportSummary(day, sent, failed, tuple(without), tuple(postponed))


async def _deliver(
    sender: ReportSender, day: date, domain: str, report: dict[str, Any], ruas: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    attachment = report_gzip(report)
    reached: list[str] = []
    missed: list[str] = []
    mailtos = [uri for uri in ruas if mailto_address(uri) is not None]
    if mailtos:
        addresses = tuple(str(mailto_address(uri)) for uri in mailtos)
        await _queue_mail(sender, day, domain, report, attachment, addresses)
        reached.extend(mailtos)
    for uri in ruas:
        if uri in mailtos:
            continue
        try:
            response = await sender.http.post(uri, attachment, {"Content-Type": CONTENT_TYPE})
        except OutgoingRequestError as error:
            log.warning("TLS report for %s to %s failed: %s", domain, uri, error)
            missed.append(uri)
            continue
        if 200 <= response.status < 300:
            log.info("TLS report for %s posted to %s", domain, uri)
            reached.append(uri)
        else:
            log.warning("TLS report for %s to %s: HTTP %d", domain, uri, response.status)
            missed.append(uri)
    return tuple(reached), tuple(missed)


async def _queue_mail(
    sender: ReportSender,
    day: date,
    domain: str,
    report: dict[str, Any],
    attachment: bytes,
    addresses: tuple[str, ...],
) -> None:
    settings = sender.settings
    content = report_message(day, domain, report, attachment, addresses, settings)
    if sender.signer_for is not None:
        content = await asyncio.to_thread(
            signed_submission, sender.signer_for, content, settings.sender
        )
    remote = [
        RemoteRecipient(address)
        for address in addresses
        if await asyncio.to_thread(sender.store.get_domain, domain_of(address)) is None
    ]
    envelope = Envelope(
        mail_from=settings.sender,
        rcpt_tos=addresses,
        received_at=datetime.now(UTC),
        helo=settings.org_name,
        client_ip="127.0.0.1",
        authenticated_as=SUBMITTER,
    )
    await sender.spool.commit(content, envelope, remote=remote)
    log.info("TLS report for %s queued to %s", domain, addresses)


def report_http_client(
    settings: TlsReportSettings, resolver: Resolver, ca_file: str = ""
) -> SafeHttpClient:
    """The client https: reports go through: report hosts resolved by ``resolver``, the
    address guard (``allow_networks``), certificates checked against ``ca_file`` (else
    the system's CAs), no redirects, a short answer read."""
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    timeout = settings.post_timeout
    return SafeHttpClient(
        AddressPolicy.allowing(settings.allow_networks),
        record_resolver(resolver),
        ClientLimits(
            connect_timeout=timeout,
            read_timeout=timeout,
            total_timeout=timeout,
            max_redirects=0,
            max_response_bytes=16 * 1024,
        ),
        ssl_context=context,
        user_agent="MaiRust-TLSRPT/1",
    )


def report_message(
    day: date,
    domain: str,
    report: dict[str, Any],
    attachment: bytes,
    recipients: tuple[str, ...],
    settings: TlsReportSettings,
    date_header: datetime | None = None,
) -> bytes:
    """The mail that carries a report (RFC 8460 §5.3), in CRLF lines."""
    start, end = day_range(day)
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(date_header or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain_of(settings.sender))
    message["Subject"] = (
        f"Report Domain: {domain} Submitter: {settings.org_name} Report-ID: <{report['report-id']}>"
    )
    message["TLS-Report-Domain"] = domain
    message["TLS-Report-Submitter"] = settings.org_name
    message.set_content(
        f"This is an aggregate TLS report from {settings.org_name}\n"
        f"for {domain}, {start:%Y-%m-%d} (UTC).\n"
    )
    message.add_attachment(
        attachment,
        maintype="application",
        subtype="tlsrpt+gzip",
        filename=(
            f"{settings.org_name}!{domain}!{int(start.timestamp())}!{int(end.timestamp())}.json.gz"
        ),
    )
    message.set_type("multipart/report")
    message.set_param("report-type", "tlsrpt")
    return message.as_bytes(policy=SMTP)
