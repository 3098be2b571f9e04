"""Admission at the SMTP edge: the counters and decisions, no sockets and no timers.

It owns who may hold a connection (in total and per client IP), how long the greeting
waits for an early talker, and how many messages a client IP or a tenant may start per
minute (the platform's token buckets, mairust.token_bucket, bounded by key count). The
session side (mairust.smtp.session_limits) asks and applies; the clock is a parameter, so
tests drive time instead of sleeping.

Trusted networks ([auth] trusted_networks: our own hosts, like Postfix's ``mynetworks``
in ``smtpd_client_event_limit_exceptions``) skip the per-IP limits and the greeting
pause: one relay host legitimately carries many clients' mail through one address. They
still count in the total (every connection costs the process a socket and a task), and
their authenticated users still spend their tenant's rate.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence

from mairust.config import AdmissionSettings
from mairust.smtp import replies
from mairust.token_bucket import Clock, TokenBucket

log = logging.getLogger(__name__)


def _bucket(per_minute: float, burst: int, clock: Clock) -> TokenBucket | None:
    """The platform's token bucket for a per-minute rate; None for 0 (no limit)."""
    return TokenBucket(per_minute / 60.0, burst, clock=clock) if per_minute > 0 else None


def _allows(bucket: TokenBucket | None, key: str) -> bool:
    return bucket is None or bucket.take(key) == 0.0


class ConnectionCounter:
    """Open connections in total and per client IP."""

    def __init__(self, max_total: int, max_per_ip: int) -> None:
        self._max_total = max_total
        self._max_per_ip = max_per_ip
        self._total = 0
        self._per_ip: dict[str, int] = {}

    @property
    def total(self) -> int:
        return self._total

    def of(self, ip: str) -> int:
        return self._per_ip.get(ip, 0)

    def open(self, ip: str, per_ip_limited: bool) -> str | None:
        """Count a new connection, or say which limit is full ("in total", "from your IP")
        and count nothing."""
        if self._total >= self._max_total:
            return "in total"
        held = self._per_ip.get(ip, 0)
        if per_ip_limited and held >= self._max_per_ip:
            return "from your IP"
        self._total += 1
        self._per_ip[ip] = held + 1
        return None

    def close(self, ip: str) -> None:
        held = self._per_ip.get(ip, 0)
        if held <= 0:
            raise ValueError(f"no open connection from {ip!r} to close")
        self._total -= 1
        if held == 1:
            del self._per_ip[ip]
        else:
            self._per_ip[ip] = held - 1


class Admission:
    """The edge's admission policy for one front-end (all its listeners)."""

    def __init__(
        self,
        settings: AdmissionSettings,
        trusted_networks: Sequence[str],
        hostname: str,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self._hostname = hostname
        self._trusted = [ipaddress.ip_network(net, strict=False) for net in trusted_networks]
        self.connections = ConnectionCounter(
            settings.max_connections, settings.max_connections_per_ip
        )
        self._per_ip = _bucket(
            settings.messages_per_minute_per_ip, settings.message_burst_per_ip, clock
        )
        self._per_tenant = _bucket(
            settings.messages_per_minute_per_tenant, settings.message_burst_per_tenant, clock
        )

    def trusted(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip.partition("%")[0])  # no IPv6 zone
        except ValueError:
            return False  # no address (a Unix socket, a test transport): not ours
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._trusted)

    def open_connection(self, ip: str) -> str | None:
        """None: admitted (close_connection must follow); else the 421 to send and close."""
        whose = self.connections.open(ip, per_ip_limited=not self.trusted(ip))
        if whose is None:
            return None
        # Info, not warning: a flood must not turn into a flood of warnings.
        log.info("connection from %s refused: too many connections %s", ip, whose)
        return replies.too_many_connections(self._hostname, whose)

    def close_connection(self, ip: str) -> None:
        self.connections.close(ip)

    def greet_pause(self, ip: str) -> float:
        """Seconds to wait before the greeting, listening for an early talker."""
        return 0.0 if self.trusted(ip) else self.settings.greet_pause_seconds

    def message_refusal(self, ip: str, tenant_id: str | None) -> str | None:
        """One message started (a MAIL): None when within the rates, else the 450.

        The client's bucket is asked first; a refusal there spends no tenant token."""
        if not self.trusted(ip) and not _allows(self._per_ip, ip):
            log.info("MAIL from %s refused: client message rate exceeded", ip)
            return replies.RATE_LIMITED_CLIENT
        if tenant_id is not None and not _allows(self._per_tenant, tenant_id):
            log.info("MAIL of tenant %s refused: tenant message rate exceeded", tenant_id)
            return replies.RATE_LIMITED_TENANT
        return None

    def timed_out(self, what: str) -> str:
        return replies.timed_out(self._hostname, what)
