"""Admission's counters and decisions, on a clock the test moves (no sockets, no sleeps)."""

from __future__ import annotations

import pytest

from mairust.config import AdmissionSettings
from mairust.smtp.admission import Admission, ConnectionCounter

HOST = "mx.example.test"
TRUSTED = ["127.0.0.1/32", "10.0.0.0/8"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admission(clock: Clock | None = None, **settings: float) -> Admission:
    return Admission(AdmissionSettings(**settings), TRUSTED, HOST, clock or Clock())


def test_zero_rates_mean_no_limit() -> None:
    policy = admission(messages_per_minute_per_ip=0, messages_per_minute_per_tenant=0)
    assert all(policy.message_refusal("192.0.2.1", "t1") is None for _ in range(1000))


def test_rate_refills_with_the_clock() -> None:
    clock = Clock()
    policy = admission(clock, messages_per_minute_per_ip=60, message_burst_per_ip=3)
    assert [policy.message_refusal("192.0.2.1", None) is None for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    clock.now += 0.5
    assert policy.message_refusal("192.0.2.1", None) is not None  # half a token
    clock.now += 0.5
    assert policy.message_refusal("192.0.2.1", None) is None
    assert policy.message_refusal("192.0.2.1", None) is not None


def test_connection_counter_refuses_beyond_per_ip_and_total_and_releases() -> None:
    counter = ConnectionCounter(max_total=3, max_per_ip=2)
    assert counter.open("a", per_ip_limited=True) is None
    assert counter.open("a", per_ip_limited=True) is None
    assert counter.open("a", per_ip_limited=True) == "from your IP"
    assert counter.open("b", per_ip_limited=True) is None
    assert counter.open("c", per_ip_limited=True) == "in total"
    assert counter.open("c", per_ip_limited=False) == "in total"
    assert (counter.total, counter.of("a"), counter.of("c")) == (3, 2, 0)
    counter.close("a")
    assert counter.open("c", per_ip_limited=True) is None
    for ip in ("a", "b", "c"):
        counter.close(ip)
    assert counter.total == 0 and counter.of("a") == 0
    with pytest.raises(ValueError):
        counter.close("a")


def test_trusted_networks_skip_per_ip_limits_but_count_in_the_total() -> None:
    policy = admission(max_connections=3, max_connections_per_ip=1)
    assert policy.open_connection("127.0.0.1") is None
    assert policy.open_connection("127.0.0.1") is None
    assert policy.open_connection("192.0.2.7") is None
    refused = policy.open_connection("192.0.2.8")
    assert refused == f"421 4.7.0 {HOST} Too many connections in total, try again later"
    policy.close_connection("127.0.0.1")
    assert policy.open_connection("192.0.2.7") == (
        f"421 4.7.0 {HOST} Too many connections from your IP, try again later"
    )


def test_trusted_covers_ipv4_mapped_ipv6_and_not_garbage() -> None:
    policy = admission()
    assert policy.trusted("10.1.2.3") and policy.trusted("::ffff:127.0.0.1")
    assert not policy.trusted("127.0.0.2") and not policy.trusted("") and not policy.trusted("x")


def test_greet_pause_only_for_untrusted_clients() -> None:
    policy = admission(greet_pause_seconds=0.7)
    assert policy.greet_pause("127.0.0.1") == 0.0
    assert policy.greet_pause("192.0.2.1") == 0.7


def test_message_rate_per_ip_then_per_tenant() -> None:
    clock = Clock()
    policy = admission(
        clock,
        messages_per_minute_per_ip=60,
        message_burst_per_ip=2,
        messages_per_minute_per_tenant=60,
        message_burst_per_tenant=3,
    )
    client = "450 4.7.1 Message rate limit exceeded for this client, try again later"
    tenant = "450 4.7.1 Message rate limit exceeded for this account, try again later"
    assert policy.message_refusal("192.0.2.1", None) is None
    assert policy.message_refusal("192.0.2.1", "t1") is None
    assert policy.message_refusal("192.0.2.1", "t1") == client
    # The client's refusal spent no tenant token: t1 has two left, from any address.
    assert policy.message_refusal("192.0.2.2", "t1") is None
    assert policy.message_refusal("127.0.0.1", "t1") is None
    assert policy.message_refusal("127.0.0.1", "t1") == tenant
    assert policy.message_refusal("127.0.0.1", "t2") is None
    # Trusted clients without a tenant are never limited.
    assert all(policy.message_refusal("127.0.0.1", None) is None for _ in range(100))
    clock.now += 1
    assert policy.message_refusal("192.0.2.1", None) is None


def test_timed_out_reply_has_the_enhanced_code() -> None:
    assert admission().timed_out("command timeout") == (
        f"421 4.4.2 {HOST} Error: command timeout exceeded, closing connection"
    )
