"""Token buckets by key: the one rate limiter of the platform (API tokens, log-ins, the mail
each local domain takes per minute).

Buckets live in the process that owns the limiter: every API replica and every SMTP
front-end keeps its own (a limiter shared between processes belongs to the scale-out
work). Memory is bounded: past ``max_keys`` the least recently seen key is forgotten (it
comes back with a full bucket). The clock is a parameter, so tests move time by hand.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

Clock = Callable[[], float]
DEFAULT_MAX_KEYS = 100_000


class TokenBucket:
    """Token buckets by key: each holds up to ``burst`` tokens, refilled at
    ``rate_per_second``; a request takes one. Thread-safe (sync routes run in a pool)."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        clock: Clock = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate_per_second
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        # key -> (tokens left, when they were counted); least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(
        self, key: str, rate_per_second: float | None = None, burst: int | None = None
    ) -> float:
        """Take one token of ``key``'s bucket: 0.0 when there was one, else the seconds
        until there will be (nothing is taken then). ``rate_per_second`` and ``burst``
        override the bucket's own for this key (keys whose limits differ, each set by
        its owner, share one bucket table)."""
        rate = self.rate if rate_per_second is None else rate_per_second
        most = float(self.burst if burst is None else burst)
        if rate <= 0 or most < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        with self._lock:
            now = self._clock()
            tokens, counted = self._buckets.pop(key, (most, now))
            tokens = min(most, tokens + (now - counted) * rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return wait
