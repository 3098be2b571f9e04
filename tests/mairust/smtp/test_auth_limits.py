"""AuthFailureCounter: failures per client address in a sliding window, bounded memory."""

from __future__ import annotations

from mairust.config import SmtpSettings
from mairust.smtp.auth_limits import AuthFailureCounter, AuthLimits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_blocked_after_max_failures_within_the_window() -> None:
    clock = Clock()
    counter = AuthFailureCounter(max_per_ip=3, window=60.0, clock=clock)
    for _ in range(2):
        counter.record("192.0.2.1")
    assert not counter.blocked("192.0.2.1")
    counter.record("192.0.2.1")
    assert counter.blocked("192.0.2.1")
    assert not counter.blocked("192.0.2.2")
    clock.now += 30.0
    assert counter.blocked("192.0.2.1")
    clock.now += 30.0  # the first failures are a full window old now
    assert not counter.blocked("192.0.2.1")


def test_the_window_slides() -> None:
    clock = Clock()
    counter = AuthFailureCounter(max_per_ip=2, window=10.0, clock=clock)
    counter.record("192.0.2.1")
    clock.now += 8.0
    counter.record("192.0.2.1")
    assert counter.blocked("192.0.2.1")
    clock.now += 3.0  # the first has left the window, the second not
    assert not counter.blocked("192.0.2.1")
    counter.record("192.0.2.1")
    assert counter.blocked("192.0.2.1")


def test_memory_is_bounded_by_forgetting_the_oldest_address() -> None:
    counter = AuthFailureCounter(max_per_ip=1, window=60.0, clock=Clock(), max_clients=2)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        counter.record(address)
    assert not counter.blocked("192.0.2.1")
    assert counter.blocked("192.0.2.2") and counter.blocked("192.0.2.3")


def test_limits_come_from_the_smtp_settings() -> None:
    limits = AuthLimits.of(
        SmtpSettings(max_auth_failures=4, auth_failure_delay=1.5, max_auth_failures_per_ip=2)
    )
    assert (limits.max_per_connection, limits.delay) == (4, 1.5)
    limits.per_ip.record("192.0.2.9")
    assert not limits.per_ip.blocked("192.0.2.9")
    limits.per_ip.record("192.0.2.9")
    assert limits.per_ip.blocked("192.0.2.9")
