"""Traffic shaping: a destination's own limits over the defaults, its pool's addresses in
turn, and rates as token buckets on the shaper's own clock."""

from __future__ import annotations

import pytest

from mairust.config import OutboundSettings
from mairust.outbound.shaping import TrafficShaper


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SETTINGS = OutboundSettings(
    connections_per_destination=4,
    messages_per_connection=100,
    rate_per_minute=0,
    pools={
        "bulk": {
            "addresses": ["127.0.0.21", "127.0.0.22"],
            "connections": 3,
            "rate_per_minute": 120,
        },
    },
    destinations={
        "slow.test": {"connections": 1, "messages_per_connection": 10, "rate_per_minute": 60},
        "bulk.test": {"pool": "bulk"},
    },
)


def test_a_destination_s_own_limits_win_over_the_defaults() -> None:
    shaper = TrafficShaper(SETTINGS)
    assert shaper.limits("other.test") == shaper.limits("other.test")
    default = shaper.limits("other.test")
    assert (default.connections, default.messages_per_connection, default.pool) == (4, 100, "")
    slow = shaper.limits("slow.test")
    assert (slow.connections, slow.messages_per_connection, slow.rate_per_minute) == (1, 10, 60)
    assert shaper.limits("bulk.test").pool == "bulk"
    assert shaper.lane("slow.test") is shaper.lane("slow.test")  # outlasts rounds


def test_a_pool_hands_out_its_addresses_in_turn_and_limits_its_sessions() -> None:
    shaper = TrafficShaper(SETTINGS)
    picks = [shaper.source_address("bulk") for _ in range(4)]
    assert picks == ["127.0.0.21", "127.0.0.22", "127.0.0.21", "127.0.0.22"]
    assert shaper.source_address("") is None
    lane = shaper.pool_lane("bulk")
    assert lane is not None and lane._value == 3
    assert shaper.pool_lane("") is None


def test_rates_admit_a_burst_then_say_when_the_next_may_go() -> None:
    clock = Clock()
    shaper = TrafficShaper(SETTINGS, clock=clock)
    first = shaper.admit("slow.test", 20)  # 60 a minute: a 5-second burst of 5
    assert first.allowed == 5
    assert first.retry_in == pytest.approx(1.0)
    assert shaper.admit("slow.test", 1).allowed == 0
    clock.now += 2.0
    assert shaper.admit("slow.test", 5).allowed == 2
    assert shaper.admit("other.test", 10_000).allowed == 10_000  # no limit there


def test_a_pool_rate_holds_across_its_destinations() -> None:
    clock = Clock()
    settings = SETTINGS.model_copy(
        update={
            "destinations": {**SETTINGS.destinations, "b2.test": SETTINGS.destinations["bulk.test"]}
        }
    )
    shaper = TrafficShaper(settings, clock=clock)
    # 120 a minute: a burst of 10, shared by every destination of the pool.
    assert shaper.admit("bulk.test", 7).allowed == 7
    assert shaper.admit("b2.test", 7).allowed == 3


def test_a_pool_named_but_not_defined_is_refused() -> None:
    with pytest.raises(ValueError, match="pools not defined: nowhere"):
        OutboundSettings(destinations={"x.test": {"pool": "nowhere"}})
    with pytest.raises(ValueError):
        OutboundSettings(pools={"p": {"addresses": ["not-an-ip"]}})
