"""Stage ``dmarc_reports``: keep the DMARC aggregate reports mail brings for our domains.

A domain's ``rua=mailto:`` address is an ordinary mailbox or alias, so a report arrives
as mail and is delivered like any (this stage runs after ``store`` and never ends a row).
When a delivered message carries a report attachment (zip, gzip or XML) about a domain
of the recipient's own tenant, the report is parsed
(:mod:`mairust.auth.dmarc_aggregate`) and kept, once per (domain, org, report id). A
report about anybody else's domain, or one that does not parse, is left in the mailbox
and only logged: hostile input costs nothing but the parse.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from mairust.auth.dmarc_aggregate import REPORT_TYPES, ReportError, reports_in_message
from mairust.model.dmarc_reports import AggregateReport, StoredReport
from mairust.model.ids import new_id
from mairust.model.parsing import ParsedMessage
from mairust.pipeline.stages.base import Ended, each_row
from mairust.pipeline.work import BatchContext, Outcome, RecipientWork

_log = logging.getLogger(__name__)
_SUFFIXES = (".zip", ".gz", ".xml")


class DmarcReportStage:
    name: ClassVar[str] = "dmarc_reports"
    description: ClassVar[str] = (
        "Keep the DMARC aggregate report a delivered message carries about a domain of its "
        "recipient's tenant (the message stays in the mailbox)."
    )

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        done: set[tuple[str, str]] = set()  # (message, tenant): once however many rows

        def keep(work: RecipientWork) -> Outcome | None:
            message = work.message
            if not work.entries or message.parsed is None or message.raw is None:
                raise RuntimeError("dmarc_reports stage needs the parse and store stages")
            key = (message.ref.id, work.entries[0].tenant_id)
            if key in done or not may_hold_report(message.parsed):
                return None
            for found in reports_in_message(message.raw):
                if isinstance(found, ReportError):
                    _log.info("message %s: no usable DMARC report: %s", message.ref.id, found)
                else:
                    _keep(batch, found, key[1], message.ref.id)
            done.add(key)  # after the store calls: an outage leaves the row to run again
            return None

        return each_row(self.name, works, keep)


def may_hold_report(parsed: ParsedMessage) -> bool:
    """Cheap: an attachment of a report's type or name, or a whole body of that type."""
    if any(
        a.content_type in REPORT_TYPES or a.filename.lower().endswith(_SUFFIXES)
        for a in parsed.attachments
    ):
        return True
    content_type = next((v for k, v in parsed.headers if k.lower() == "content-type"), "")
    return content_type.split(";")[0].strip().lower() in REPORT_TYPES


def _keep(batch: BatchContext, report: AggregateReport, tenant_id: str, message_id: str) -> None:
    domain = batch.stores.metadata.get_domain(report.policy.domain)
    if domain is None or domain.tenant_id != tenant_id:
        _log.info(
            "message %s: DMARC report about %s, not a domain of the recipient's tenant: not kept",
            message_id,
            report.policy.domain,
        )
        return
    stored = StoredReport(
        id=new_id(),
        tenant_id=tenant_id,
        domain=domain.name,
        report=report,
        received_at=datetime.now(UTC),
        message_id=message_id,
    )
    if not batch.stores.metadata.add_dmarc_report(stored):
        _log.info("message %s: DMARC report %s kept already", message_id, report.metadata.report_id)
