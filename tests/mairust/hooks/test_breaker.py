"""The circuit breaker on a clock the test moves: open after N failures in a row, shed
while open, one trial when the time is up, closed by a success, open again by a failure."""

from __future__ import annotations

import pytest

from mairust.hooks.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state  # read anew each time (mypy would narrow the property)


def test_open_shed_trial_and_close() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", failures_to_open=3, open_seconds=10, clock=clock)
    for _ in range(2):
        assert breaker.allows()
        breaker.failed()
    breaker.succeeded()  # a success resets the count
    for _ in range(3):
        assert breaker.allows()
        breaker.failed()
    assert state(breaker) is BreakerState.OPEN and breaker.opened == 1
    assert not breaker.allows()
    clock.now += 10
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allows()  # the one trial
    assert not breaker.allows()  # nobody else while it is out
    breaker.failed()  # the trial failed: open again, for the whole time
    assert state(breaker) is BreakerState.OPEN and not breaker.allows()
    clock.now += 10
    assert breaker.allows()
    breaker.succeeded()
    assert state(breaker) is BreakerState.CLOSED and breaker.allows()
    assert breaker.opened == 1


def test_a_breaker_needs_sane_limits() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("p", failures_to_open=0)
    with pytest.raises(ValueError):
        CircuitBreaker("p", open_seconds=0)


def test_each_opening_and_closing_is_told_and_nothing_else() -> None:
    clock = Clock()
    told: list[BreakerState] = []
    breaker = CircuitBreaker(
        "p",
        failures_to_open=2,
        open_seconds=10,
        clock=clock,
        on_change=lambda b: told.append(b.state),
    )
    breaker.succeeded()  # closed stays closed: nothing to tell
    breaker.failed()
    assert told == []
    breaker.failed()
    assert told == [BreakerState.OPEN]
    clock.now += 10
    assert breaker.allows()
    breaker.failed()  # a failed trial: open again, told again
    clock.now += 10
    assert breaker.allows()
    breaker.succeeded()
    assert told == [BreakerState.OPEN, BreakerState.OPEN, BreakerState.CLOSED]
    assert breaker.open_seconds == 10
