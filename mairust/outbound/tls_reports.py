"""What a TLS report (RFC 8460, TLS-RPT) is built from: per policy domain, the sessions
that went over TLS and every TLS failure, in the RFC's result types.

:class:`TlsReportLog` is the batching in front of the metadata store: the delivery path
tells it each failure (with the policy, the MX host and the addresses) and each batch's
successful TLS sessions; it adds them up in memory by UTC day and
:class:`~mairust.model.tls_reports.TlsResultKey`, and :meth:`TlsReportLog.flush` writes
what is pending to the store in one call (one upsert statement for the batch, counts added
to the day's rows, so several delivery loops and restarts add up). A flush that fails
keeps its counts for the next one. :func:`run_flushes` flushes every few seconds under the
delivery actor's supervisor. The process's own totals and the latest failures (bounded)
stay in memory for stats and logs. The daily reports are built and sent from the store
(``tls_report_sender.py``, ``tls_report_loop.py``).

:func:`result_type_of` names a client's TLS failure as RFC 8460 §4.3 does;
:func:`sts_policy_string` gives a policy's lines as a report names them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mairust.errors import StorageUnavailable
from mairust.model.tls_reports import (
    NO_POLICY_FOUND,
    POLICY_STS,
    TlsResultCount,
    TlsResultKey,
)
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.mta_sts import StsPolicy
from mairust.outbound.smtp_types import TlsNotOffered
from mairust.storage.protocols import TlsReportStore

log = logging.getLogger(__name__)

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


def sts_policy_string(policy: StsPolicy) -> tuple[str, ...]:
    """An MTA-STS policy's lines (RFC 8460 §4.3 ``policy-string``)."""
    return (
        "version: STSv1",
        f"mode: {policy.mode}",
        *(f"mx: {pattern}" for pattern in policy.mx),
        f"max_age: {policy.max_age}",
    )


def route_source_address(address: str) -> str:
    """The local address the kernel would send from to ``address`` ("" if none): a
    connected UDP socket sends nothing, it only picks the route."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((address, 25))
            return str(probe.getsockname()[0])
    except OSError:
        return ""


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
    """Counts by policy domain, batched for the store; safe to share between threads.

    ``batch`` False keeps only the process's totals (TLS reports are off: nothing to
    flush). ``sending_ip_for`` names our address towards a receiving IP."""

    def __init__(
        self,
        *,
        keep: int = 1000,
        clock: Callable[[], float] = time.time,
        batch: bool = True,
        sending_ip_for: Callable[[str], str] = route_source_address,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._batch = batch
        self._sending_ip_for = sending_ip_for
        self.recent: deque[TlsFailure] = deque(maxlen=keep)
        self.failures: Counter[tuple[str, str]] = Counter()  # (domain, result type)
        self.successes: Counter[str] = Counter()  # domain → sessions over TLS
        self._pending: Counter[TlsResultKey] = Counter()

    def failure(
        self,
        policy_domain: str,
        policy_type: str,
        result_type: str,
        mx_host: str | None,
        address: str | None,
        detail: str,
        *,
        policy_string: Sequence[str] = (),
        mx_patterns: Sequence[str] = (),
    ) -> None:
        at = self._clock()
        record = TlsFailure(at, policy_domain, policy_type, result_type, mx_host, address, detail)
        key = None
        if self._batch:
            key = TlsResultKey(
                day=datetime.fromtimestamp(at, UTC).date(),
                policy_domain=policy_domain,
                policy_type=_report_policy_type(policy_type),
                policy_string=tuple(policy_string),
                mx_hosts=tuple(mx_patterns),
                result_type=result_type,
                sending_ip=self._sending_ip_for(address) if address else "",
                receiving_mx=mx_host or "",
                receiving_ip=address or "",
            )
        with self._lock:
            self.recent.append(record)
            self.failures[(policy_domain, result_type)] += 1
            if key is not None:
                self._pending[key] += 1

    def success(
        self,
        policy_domain: str,
        policy_type: str,
        sessions: int = 1,
        *,
        policy_string: Sequence[str] = (),
        mx_patterns: Sequence[str] = (),
    ) -> None:
        key = TlsResultKey(
            day=datetime.fromtimestamp(self._clock(), UTC).date(),
            policy_domain=policy_domain,
            policy_type=_report_policy_type(policy_type),
            policy_string=tuple(policy_string),
            mx_hosts=tuple(mx_patterns),
        )
        with self._lock:
            self.successes[policy_domain] += sessions
            if self._batch:
                self._pending[key] += sessions

    def policy_failure(self, policy_domain: str, result_type: str, detail: str) -> None:
        """A policy that could not be had (fetch error, invalid policy): no MX involved."""
        self.failure(policy_domain, POLICY_STS, result_type, None, None, detail)

    def summary(self, policy_domain: str) -> dict[str, int]:
        """This process's counts for ``policy_domain`` (flushed or not)."""
        with self._lock:
            counts = {
                kind: n for (domain, kind), n in self.failures.items() if domain == policy_domain
            }
            counts["successful-sessions"] = self.successes[policy_domain]
        return counts

    def drain(self) -> list[TlsResultCount]:
        """What is pending, handed over (the log forgets it)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        return [TlsResultCount(key, count) for key, count in pending.items()]

    def restore(self, counts: Sequence[TlsResultCount]) -> None:
        """Counts a flush could not write: pending again."""
        with self._lock:
            for count in counts:
                self._pending[count.key] += count.count

    async def flush(self, store: TlsReportStore) -> int:
        """Write what is pending to ``store`` in one call; how many rows. A store that is
        down: the counts stay pending and StorageUnavailable is raised."""
        counts = self.drain()
        if not counts:
            return 0
        try:
            await asyncio.to_thread(store.add_tls_results, counts)
        except BaseException:
            self.restore(counts)
            raise
        return len(counts)


async def run_flushes(
    reports: TlsReportLog,
    store: TlsReportStore,
    interval: float,
    *,
    progress: Callable[[], None] = lambda: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Forever: flush, then wait ``interval`` seconds; a store that is down is waited out."""
    while True:
        try:
            await reports.flush(store)
        except StorageUnavailable as error:
            log.info("TLS report counts wait: %s", error)
        else:
            progress()
        await sleep(interval)


def _report_policy_type(policy_type: str) -> str:
    # RFC 8460 §4.3 knows sts, tlsa and no-policy-found; our require_tls is no policy the
    # domain published.
    return POLICY_STS if policy_type == POLICY_STS else NO_POLICY_FOUND
