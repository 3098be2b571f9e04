"""Sending DMARC aggregate reports (RFC 7489 §7.2) to the domains that ask for them.

For one period ``[period_end - interval, period_end)``: the auth results of the mail
received from outside (:meth:`DmarcReportStore.inbound_auth_results`) are grouped by
author domain (:func:`~mairust.outbound.dmarc_report_xml.report_rows`); each author
domain's DMARC record is looked up through the resolver (the policy domain may be its
organizational domain: rows are reported to the domain whose record applied); a record
with ``rua=mailto:`` addresses gets one report, gzip'd XML attached to a message from the
configured sender, DKIM-signed when the sender's domain has keys (given a signer lookup),
committed through the spool like any outbound mail (a remote address gets an outbound
row, one of our own domains a local queue row).

RFC 7489 §7.1: a ``rua`` address outside the policy domain's organizational domain is used
only when the destination publishes ``<policy domain>._report._dmarc.<its domain>`` with
``v=DMARC1``; a ``!size`` limit smaller than the report drops that address. A DNS failure
skips the domain this period (logged); running the period again sends it then. Nothing
records which periods went out: the caller runs each period once.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Protocol

from mairust.auth.dmarc import DmarcPolicy, DmarcRecordError, discover_policy, organizational_domain
from mairust.auth.dns import DnsTempError, NxDomain, Resolver
from mairust.config import DmarcReportSettings
from mairust.model.address import domain_of
from mairust.model.dmarc_reports import (
    AggregateReport,
    InboundAuth,
    PolicyPublished,
    ReportMetadata,
    ReportRow,
)
from mairust.model.message import Envelope
from mairust.model.outbound import RemoteRecipient
from mairust.outbound.dmarc_report_xml import report_rows, report_xml
from mairust.outbound.signing import SignerLookup, signed_submission
from mairust.spool import Spool
from mairust.storage.protocols import DirectoryStore, DmarcReportStore

log = logging.getLogger(__name__)

PAGE = 1000  # messages read a query
SUBMITTER = "dmarc-reports"  # the envelope's authenticated_as: our reports are no input
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class ReportStore(DmarcReportStore, DirectoryStore, Protocol):
    """What the sender reads: the period's auth results, and which domains are ours."""


@dataclass(frozen=True, slots=True)
class OutgoingReport:
    """One report ready to go: to whom, and the message that carries it."""

    domain: str
    report: AggregateReport
    recipients: tuple[str, ...]
    content: bytes


@dataclass(frozen=True, slots=True)
class SendSummary:
    period_begin: datetime
    period_end: datetime
    sent: tuple[str, ...]  # policy domains a report was queued for
    skipped: tuple[str, ...]  # author domains without a rua, or whose lookup failed


def build_aggregate_reports(
    store: ReportStore,
    resolver: Resolver,
    settings: DmarcReportSettings,
    period_end: datetime,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[list[OutgoingReport], list[str]]:
    """The reports for the period ending at ``period_end``, and the author domains that
    get none (blocking: DNS and store calls)."""
    begin = period_end - timedelta(seconds=settings.interval_seconds)
    rows_by_author = report_rows(_period(store, begin, period_end))
    by_policy: dict[str, tuple[DmarcPolicy, list[ReportRow]]] = {}
    skipped: list[str] = []
    for author, rows in sorted(rows_by_author.items()):
        policy = _policy(resolver, author)
        if policy is None or not policy.record.rua:
            skipped.append(author)
            continue
        by_policy.setdefault(policy.record_domain, (policy, []))[1].extend(rows)
    reports = []
    for domain, (policy, rows) in sorted(by_policy.items()):
        report = AggregateReport(
            metadata=ReportMetadata(
                org_name=settings.org_name,
                email=settings.sender,
                report_id=f"{domain}.{int(begin.timestamp())}.{int(period_end.timestamp())}",
                begin=begin,
                end=period_end,
                extra_contact_info=settings.contact,
            ),
            policy=_published(policy),
            rows=tuple(rows),
        )
        attachment = gzip.compress(report_xml(report), mtime=0)
        recipients = _destinations(resolver, policy, len(attachment))
        if recipients:
            content = report_message(report, attachment, recipients, settings, now())
            reports.append(OutgoingReport(domain, report, recipients, content))
        else:
            skipped.append(domain)
    return reports, skipped


async def send_aggregate_reports(
    period_end: datetime,
    *,
    store: ReportStore,
    spool: Spool,
    resolver: Resolver,
    settings: DmarcReportSettings,
    signer_for: SignerLookup | None = None,
) -> SendSummary:
    """Build the period's reports and commit each through ``spool`` (started by the
    caller) as outbound mail, DKIM-signed for the sender's domain when ``signer_for``
    finds its keys (as the send API signs). Raises StorageUnavailable when a commit fails
    (the reports committed before it are queued)."""
    reports, skipped = await asyncio.to_thread(
        build_aggregate_reports, store, resolver, settings, period_end
    )
    sent = []
    for outgoing in reports:
        remote = [
            RemoteRecipient(address)
            for address in outgoing.recipients
            if await asyncio.to_thread(store.get_domain, domain_of(address)) is None
        ]
        envelope = Envelope(
            mail_from=settings.sender,
            rcpt_tos=outgoing.recipients,
            received_at=datetime.now(UTC),
            helo=settings.org_name,
            client_ip="127.0.0.1",
            authenticated_as=SUBMITTER,
        )
        content = outgoing.content
        if signer_for is not None:
            content = await asyncio.to_thread(
                signed_submission, signer_for, content, settings.sender
            )
        await spool.commit(content, envelope, remote=remote)
        log.info("DMARC report for %s queued to %s", outgoing.domain, outgoing.recipients)
        sent.append(outgoing.domain)
    begin = period_end - timedelta(seconds=settings.interval_seconds)
    return SendSummary(begin, period_end, tuple(sent), tuple(skipped))


def report_message(
    report: AggregateReport,
    attachment: bytes,
    recipients: Sequence[str],
    settings: DmarcReportSettings,
    date: datetime,
) -> bytes:
    """The mail that carries ``report`` (its gzip'd XML as ``attachment``), with the
    subject and file name RFC 7489 §7.2.1.1 gives, in CRLF lines."""
    meta = report.metadata
    begin, end = int(meta.begin.timestamp()), int(meta.end.timestamp())
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = make_msgid(domain=domain_of(settings.sender))
    message["Subject"] = (
        f"Report Domain: {report.policy.domain} Submitter: {meta.org_name} "
        f"Report-ID: <{meta.report_id}>"
    )
    message.set_content(
        f"DMARC aggregate report for {report.policy.domain} from {meta.org_name}, "
        f"{meta.begin.isoformat()} to {meta.end.isoformat()}: {report.messages} messages.\n"
    )
    message.add_attachment(
        attachment,
        maintype="application",
        subtype="gzip",
        filename=f"{meta.org_name}!{report.policy.domain}!{begin}!{end}.xml.gz",
    )
    return message.as_bytes(policy=SMTP)


def _period(store: ReportStore, begin: datetime, end: datetime) -> list[InboundAuth]:
    found: list[InboundAuth] = []
    after = None
    while True:
        page = store.inbound_auth_results(begin, end, PAGE, after)
        found.extend(page)
        if len(page) < PAGE:
            return found
        after = page[-1].message_id


def _policy(resolver: Resolver, domain: str) -> DmarcPolicy | None:
    try:
        return discover_policy(resolver, domain)
    except (DnsTempError, DmarcRecordError) as error:
        log.warning("DMARC report for %s skipped: %s", domain, error)
        return None


def _published(policy: DmarcPolicy) -> PolicyPublished:
    record = policy.record
    return PolicyPublished(
        domain=policy.record_domain,
        adkim="s" if record.adkim == "strict" else "r",
        aspf="s" if record.aspf == "strict" else "r",
        p=record.p,
        sp=record.sp or "",
        pct=record.pct,
    )


def _destinations(resolver: Resolver, policy: DmarcPolicy, size: int) -> tuple[str, ...]:
    """The record's mailto: addresses this report may go to (size limit, §7.1 check)."""
    found: list[str] = []
    for uri in policy.record.rua:
        parsed = _mailto(uri)
        if parsed is None:
            continue
        address, limit = parsed
        if limit is not None and size > limit:
            log.info(
                "DMARC report for %s: %s takes at most %d bytes",
                policy.record_domain,
                address,
                limit,
            )
            continue
        if _authorised(resolver, policy.record_domain, domain_of(address)):
            found.append(address)
    return tuple(dict.fromkeys(found))


def _mailto(uri: str) -> tuple[str, int | None] | None:
    """``mailto:a@b.test!10m`` → ("a@b.test", 10 MiB); None for other schemes or junk."""
    if not uri.lower().startswith("mailto:"):
        return None
    target, _, size = uri[len("mailto:") :].partition("!")
    address = target.split("?", 1)[0].strip()
    # Only plain ASCII addresses: the record is the domain owner's text, and it goes into
    # a header and an envelope.
    if (
        not address.isascii()
        or address.count("@") != 1
        or any(c.isspace() or c in '<>,;"\\' for c in address)
    ):
        return None
    if not size:
        return address, None
    digits, unit = size.rstrip("kmgtKMGT"), size[len(size.rstrip("kmgtKMGT")) :].lower()
    if not digits.isdigit() or len(unit) > 1:
        return None
    return address, int(digits) * _SIZE_UNITS[unit]


def _authorised(resolver: Resolver, policy_domain: str, destination: str) -> bool:
    """RFC 7489 §7.1: a destination outside the policy domain's organizational domain
    must say it takes reports for it."""
    if organizational_domain(destination) == organizational_domain(policy_domain):
        return True
    name = f"{policy_domain}._report._dmarc.{destination}"
    if len(name) > 253 or any(not 0 < len(label) < 64 for label in name.split(".")):
        log.info(
            "DMARC report for %s: %s cannot be checked (name too long)", policy_domain, destination
        )
        return False
    try:
        records = resolver.lookup(name, "TXT")
    except NxDomain:
        records = ()
    except DnsTempError as error:
        log.warning("DMARC report to %s skipped: %s", destination, error)
        return False
    if any(r.strip().lower().startswith("v=dmarc1") for r in records):
        return True
    log.info("DMARC report for %s: %s does not accept its reports", policy_domain, destination)
    return False
