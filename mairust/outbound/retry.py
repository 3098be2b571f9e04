"""When a deferred recipient is tried again, and when it has waited long enough to bounce.

RFC 5321 §4.5.4.1: retry at least 30 minutes apart at first, give up after at least 4-5
days. Exponential backoff with jitter keeps a queue that built up behind one failing
destination from retrying in lock-step; the delay is capped so a message deferred for days
is still tried every few hours. Every moment is computed from times passed in, so tests
run "give up after 5 days" on their own clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from mairust.config import OutboundSettings


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    initial_seconds: float = 300.0
    factor: float = 2.0
    max_seconds: float = 4 * 3600.0
    jitter: float = 0.2
    expire_seconds: float = 5 * 86400.0

    @classmethod
    def from_settings(cls, settings: OutboundSettings) -> RetrySchedule:
        return cls(
            initial_seconds=settings.retry_initial_seconds,
            factor=settings.retry_factor,
            max_seconds=settings.retry_max_seconds,
            jitter=settings.retry_jitter,
            expire_seconds=settings.expire_seconds,
        )

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """How long to wait after the ``attempts``-th failed try (1 = the first)."""
        exponent = max(attempts - 1, 0)
        # min() before the power would overflow: factor ** 1000 is a float overflow.
        base = self.initial_seconds
        for _ in range(exponent):
            base *= self.factor
            if base >= self.max_seconds:
                break
        base = min(base, self.max_seconds)
        spread = base * self.jitter
        offset = (rng or random).uniform(-spread, spread) if spread else 0.0
        return timedelta(seconds=max(base + offset, 1.0))

    def expires_at(self, created_at: datetime) -> datetime:
        return created_at + timedelta(seconds=self.expire_seconds)

    def next_attempt(
        self, attempts: int, created_at: datetime, now: datetime, rng: random.Random | None = None
    ) -> datetime | None:
        """When to try again after a temporary failure at ``now``; None when the recipient
        has expired (its time is up, or the next try would fall after its expiry: one last
        try at the expiry moment is made instead, so no recipient bounces early)."""
        expiry = self.expires_at(created_at)
        if now >= expiry:
            return None
        return min(now + self.delay(attempts, rng), expiry)
