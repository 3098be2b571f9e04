"""DMARC aggregate reports (RFC 7489 §7.2, appendix C) as value types, both ways.

What a receiver tells a domain owner about mail it saw from the domain: who reported
(``ReportMetadata``), the policy it found published (``PolicyPublished``) and one
``ReportRow`` per (source IP, evaluated result, identifiers, authentication results) with
how many messages had them. Reports received for our domains are parsed into these
(:mod:`mairust.auth.dmarc_aggregate`) and stored as a ``StoredReport``; the reports we
send are built from the same types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ReportMetadata:
    org_name: str  # the reporting organisation (a domain name, usually)
    email: str  # where to write to about the report
    report_id: str  # unique per org_name
    begin: datetime  # the period the report covers, UTC
    end: datetime
    extra_contact_info: str = ""
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyPublished:
    domain: str
    adkim: str = "r"  # "r" | "s"
    aspf: str = "r"
    p: str = "none"  # "none" | "quarantine" | "reject"
    sp: str = ""  # "" when the record had none
    pct: int = 100
    fo: str = ""


@dataclass(frozen=True, slots=True)
class AuthDomainResult:
    """One ``auth_results`` entry: a DKIM signature's or SPF check's domain and result."""

    domain: str
    result: str  # RFC 7489 appendix C's words (pass, fail, none, softfail, ...)
    selector: str = ""  # DKIM only
    scope: str = ""  # SPF only: "mfrom" | "helo"


@dataclass(frozen=True, slots=True)
class ReportRow:
    source_ip: str
    count: int
    disposition: str  # "none" | "quarantine" | "reject"
    dkim: str  # the DKIM result as DMARC evaluated it (aligned): "pass" | "fail"
    spf: str  # likewise for SPF
    header_from: str
    envelope_from: str = ""
    envelope_to: str = ""
    dkim_results: tuple[AuthDomainResult, ...] = ()
    spf_results: tuple[AuthDomainResult, ...] = ()
    reasons: tuple[str, ...] = ()  # policy override reasons: "forwarded", ...

    @property
    def passed(self) -> bool:
        """DMARC passed for these messages: an aligned DKIM or SPF pass (RFC 7489 §3)."""
        return self.dkim == "pass" or self.spf == "pass"


@dataclass(frozen=True, slots=True)
class AggregateReport:
    metadata: ReportMetadata
    policy: PolicyPublished
    rows: tuple[ReportRow, ...] = field(default=())

    @property
    def messages(self) -> int:
        return sum(row.count for row in self.rows)

    @property
    def passed(self) -> int:
        """How many of the reported messages passed DMARC."""
        return sum(row.count for row in self.rows if row.passed)

    @property
    def failed(self) -> int:
        return self.messages - self.passed


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A received report as kept for a tenant's domain (unique per domain, org, report id)."""

    id: str
    tenant_id: str
    domain: str
    report: AggregateReport
    received_at: datetime
    message_id: str = ""  # the message it came in (the spool's id)


@dataclass(frozen=True, slots=True)
class InboundAuth:
    """What the report builder reads of one received message: where it came from, its
    stored authentication results (``AuthResults.to_json``) and the folder it went to,
    or ``refused`` (a DMARC p=reject refusal at DATA; its id is the transaction's)."""

    message_id: str
    received_at: datetime
    client_ip: str
    auth_results: dict[str, Any]
    folder: str = ""
    refused: bool = False
