"""Response bodies of ``/api/v1/domains/{domain}/dmarc-reports``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from mairust.model.dmarc_reports import StoredReport


class DmarcReportOut(BaseModel):
    """One received aggregate report, summed up: who reported which period, what policy
    it found, and how many of the messages it saw passed DMARC and how many failed."""

    id: str
    domain: str
    org_name: str
    email: str
    report_id: str
    begin: datetime
    end: datetime
    policy: str  # p= as the reporter found it published
    messages: int
    passed: int
    failed: int
    sources: int  # rows: distinct (source IP, result) groups
    received_at: datetime
    message_id: str

    @classmethod
    def from_report(cls, stored: StoredReport) -> DmarcReportOut:
        report = stored.report
        return cls(
            id=stored.id,
            domain=stored.domain,
            org_name=report.metadata.org_name,
            email=report.metadata.email,
            report_id=report.metadata.report_id,
            begin=report.metadata.begin,
            end=report.metadata.end,
            policy=report.policy.p,
            messages=report.messages,
            passed=report.passed,
            failed=report.failed,
            sources=len(report.rows),
            received_at=stored.received_at,
            message_id=stored.message_id,
        )


class DmarcReportPage(BaseModel):
    items: list[DmarcReportOut]
    next: str | None  # pass as ``after`` for the next page; None at the end
