"""What a TLS report (RFC 8460, TLS-RPT) is built from: per policy domain, the sessions
that went over TLS and every TLS failure, in the RFC's result types.

:class:`TlsReportLog` keeps them per process, in memory (counts by policy domain and
result type, and the latest failures, bounded); building and sending the daily JSON
report to a domain's ``_smtp._tls`` ``rua`` is not done here.
:func:`result_type_of` names a client's TLS failure as RFC 8460 §4.3 does.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.smtp_types import TlsNotOffered

# OpenSSL's X509_V_ERR_* codes (x509_vfy.h) that have a TLS-RPT result type of their own.
_HOSTNAME_MISMATCH = 62
_EXPIRED = 10
_NOT_TRUSTED = frozenset({2, 18, 19, 20, 21, 27})


def result_type_of(failure: DeliveryFailure) -> str:
    """RFC 8460 §4.3.2.1's result type for a TLS failure of the SMTP client."""
    if isinstance(failure, TlsNotOffered):
        return "starttls-not-supported"
    cause = failure.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        if cause.verify_code == _HOSTNAME_MISMATCH:
            return "certificate-host-mismatch"
        if cause.verify_code == _EXPIRED:
            return "certificate-expired"
        if cause.verify_code in _NOT_TRUSTED:
            return "certificate-not-trusted"
    return "validation-failure"


@dataclass(frozen=True, slots=True)
class TlsFailure:
    """One failure, with what a report's ``failure-details`` names."""

    at: float
    policy_domain: str
    policy_type: str  # "sts", "require-tls", ...
    result_type: str
    mx_host: str | None
    address: str | None
    detail: str


class TlsReportLog:
    """Counts and recent failures by policy domain; safe to share between threads."""

    def __init__(self, *, keep: int = 1000, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.recent: deque[TlsFailure] = deque(maxlen=keep)
        self.failures: Counter[tuple[str, str]] = Counter()  # (domain, result type)
        self.successes: Counter[str] = Counter()  # domain → sessions over TLS

    def failure(
        self,
        policy_domain: str,
        policy_type: str,
        result_type: str,
        mx_host: str | None,
        address: str | None,
        detail: str,
    ) -> None:
        record = TlsFailure(
            self._clock(), policy_domain, policy_type, result_type, mx_host, address, detail
        )
        with self._lock:
            self.recent.append(record)
            self.failures[(policy_domain, result_type)] += 1

    def success(self, policy_domain: str, policy_type: str, sessions: int = 1) -> None:
        with self._lock:
            self.successes[policy_domain] += sessions

    def policy_failure(self, policy_domain: str, result_type: str, detail: str) -> None:
        """A policy that could not be had (fetch error, invalid policy): no MX involved."""
        self.failure(policy_domain, "sts", result_type, None, None, detail)

    def summary(self, policy_domain: str) -> dict[str, int]:
        """The counts a report for ``policy_domain`` starts from."""
        with self._lock:
            counts = {
                kind: n for (domain, kind), n in self.failures.items() if domain == policy_domain
            }
            counts["successful-sessions"] = self.successes[policy_domain]
        return counts
