"""DomainLimits: the smallest size limit of a transaction's domains, SIZE= against a
domain's limit, and a per-minute allowance per domain on a clock the test moves."""

from __future__ import annotations

from mairust.model.policy import DomainPolicy
from mairust.smtp.domain_limits import DomainLimits


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_the_smallest_limit_of_the_transactions_domains_applies() -> None:
    limits = DomainLimits(10_000)
    assert limits.size_limit([]) == 10_000
    assert limits.size_limit([DomainPolicy(), DomainPolicy(max_message_bytes=4000)]) == 4000
    # A domain's own limit never raises the platform's.
    assert limits.size_limit([DomainPolicy(max_message_bytes=20_000)]) == 10_000


def test_a_declared_size_is_checked_against_the_domains_limit() -> None:
    limits = DomainLimits(10_000)
    small = DomainPolicy(max_message_bytes=4000)
    assert limits.declared_too_big(small, ["BODY=8BITMIME", "SIZE=4001"])
    assert not limits.declared_too_big(small, ["size=4000"])
    assert not limits.declared_too_big(small, [])
    assert not limits.declared_too_big(small, ["SIZE=lots"])  # aiosmtpd refuses it first
    assert not limits.declared_too_big(DomainPolicy(), ["SIZE=9999999"])


def test_each_domain_has_its_own_allowance_per_minute() -> None:
    clock = FakeClock()
    limits = DomainLimits(10_000, clock=clock)
    three = DomainPolicy(messages_per_minute=3)
    assert [limits.admit("a.test", three) for _ in range(4)] == [True, True, True, False]
    assert limits.admit("b.test", three)  # another domain, its own bucket
    assert all(limits.admit("c.test", DomainPolicy()) for _ in range(1000))  # no limit set
    clock.now += 20  # a third of a minute: one more message
    assert [limits.admit("a.test", three) for _ in range(2)] == [True, False]
