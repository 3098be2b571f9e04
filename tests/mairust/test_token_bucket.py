"""Token buckets on a clock the test moves (no sleeps): burst, refill, per-key limits,
bounded memory."""

from __future__ import annotations

import pytest

from mairust.token_bucket import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_spends_its_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 3, clock=clock)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.take("a") == pytest.approx(0.25)  # a refused request takes nothing
    clock.now += 0.25
    assert bucket.take("a") == 0.0
    assert bucket.take("a") == pytest.approx(0.5)
    # Never more than the burst, however long it rested.
    clock.now += 3600
    assert [bucket.take("a") for _ in range(4)][-1] == pytest.approx(0.5)


def test_keys_have_their_own_buckets_and_the_oldest_is_forgotten() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 1, clock=clock, max_keys=2)
    assert bucket.take("a") == 0.0
    assert bucket.take("b") == 0.0
    assert bucket.take("a") > 0 and bucket.take("b") > 0
    assert bucket.take("c") == 0.0  # "a" was the least recently seen: forgotten
    assert bucket.take("a") == 0.0


def test_a_bucket_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0.0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1.0, 0)


def test_a_key_may_carry_its_own_rate_and_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100.0, 100, clock=clock)
    # 6 a minute with a burst of 6: the seventh waits ten seconds.
    assert [bucket.take("slow", 0.1, 6) for _ in range(6)] == [0.0] * 6
    assert bucket.take("slow", 0.1, 6) == pytest.approx(10.0)
    assert bucket.take("fast") == 0.0  # other keys keep the bucket's own limits
    clock.now += 10
    assert bucket.take("slow", 0.1, 6) == 0.0
    with pytest.raises(ValueError):
        bucket.take("bad", 0.0, 1)
