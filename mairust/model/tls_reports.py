"""TLS-RPT (RFC 8460) counts as value types: what one day's report to a policy domain is
built from.

A :class:`TlsResultKey` names one kind of TLS outcome on one UTC day: the policy domain,
the policy that applied (its type, its lines, its MX patterns), and either
:data:`SUCCESS` (sessions that went over TLS as the policy asked) or one of RFC 8460
§4.3's result types with the sending and receiving addresses of the failed sessions.
A :class:`TlsResultCount` is how many sessions had it. A :class:`SentTlsReport` records
that a domain's report of a day went out (or was claimed for sending), so it goes once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

SUCCESS = "success"  # a session that went over TLS: counted in the summary only
POLICY_STS = "sts"
NO_POLICY_FOUND = "no-policy-found"


@dataclass(frozen=True, slots=True)
class TlsResultKey:
    day: date  # UTC
    policy_domain: str  # lower case
    policy_type: str  # "sts" or "no-policy-found" (RFC 8460 §4.3)
    policy_string: tuple[str, ...] = ()  # the policy's lines, as fetched
    mx_hosts: tuple[str, ...] = ()  # the policy's MX patterns
    result_type: str = SUCCESS
    sending_ip: str = ""  # "" where not known
    receiving_mx: str = ""
    receiving_ip: str = ""


@dataclass(frozen=True, slots=True)
class TlsResultCount:
    key: TlsResultKey
    count: int


@dataclass(frozen=True, slots=True)
class SentTlsReport:
    day: date
    policy_domain: str
    report_id: str
    destinations: tuple[str, ...]  # the rua URIs it went to; () when the domain has none
    claimed_at: datetime
