"""Traffic shaping of outbound delivery: per destination and per source-address pool, how
many sessions may be open at once, how many messages one session carries, how many
messages a minute may go, and which local address each session comes from.

KumoMTA's lesson: receivers throttle by sending IP and by their own domain, so both are
shaped. Limits come from ``[outbound]`` (defaults), ``[outbound.destinations.NAME]`` (a
destination's own) and ``[outbound.pools.NAME]`` (a pool's addresses and limits). One
shaper lives in each delivery loop; its semaphores outlast rounds, so a destination's
connection limit holds however its messages are leased. Rates are token buckets
(``mairust.token_bucket``): what a minute's allowance cannot take now is postponed by the
loop — put back unattempted, due when the bucket will have refilled — never sent early,
never counted as a failed try.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mairust.config import OutboundSettings
from mairust.token_bucket import TokenBucket

# Buckets hold at most this many seconds' worth of messages: a quiet destination may take a
# short burst, never a minute's allowance at once.
BURST_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Limits:
    """What one destination may use."""

    connections: int
    messages_per_connection: int
    rate_per_minute: float  # 0: no limit
    pool: str  # "": no pool (the OS picks the source address)


@dataclass(frozen=True, slots=True)
class Admission:
    """How many of a destination's messages may go now, and when the rest may."""

    allowed: int
    retry_in: float  # seconds; 0.0 when every message was allowed


class TrafficShaper:
    def __init__(
        self, settings: OutboundSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._lanes: dict[str, asyncio.Semaphore] = {}
        self._pool_lanes: dict[str, asyncio.Semaphore] = {}
        self._addresses: dict[str, Iterator[str]] = {
            name: itertools.cycle(pool.addresses)
            for name, pool in settings.pools.items()
            if pool.addresses
        }
        # One table of buckets; each key brings its own rate (see TokenBucket.take).
        self._buckets = TokenBucket(1.0, 1, clock=clock)

    def limits(self, destination: str) -> Limits:
        settings = self._settings
        own = settings.destinations.get(destination)
        pool = settings.default_pool
        connections = settings.connections_per_destination
        per_connection = settings.messages_per_connection
        rate = settings.rate_per_minute
        if own is not None:
            connections = own.connections or connections
            per_connection = own.messages_per_connection or per_connection
            rate = own.rate_per_minute if own.rate_per_minute is not None else rate
            pool = own.pool if own.pool is not None else pool
        return Limits(connections, per_connection, rate, pool)

    def lane(self, destination: str) -> asyncio.Semaphore:
        """The semaphore of the destination's open sessions."""
        lane = self._lanes.get(destination)
        if lane is None:
            lane = self._lanes[destination] = asyncio.Semaphore(
                self.limits(destination).connections
            )
        return lane

    def pool_lane(self, pool: str) -> asyncio.Semaphore | None:
        """The semaphore of a pool's open sessions; None when the pool sets no limit."""
        spec = self._settings.pools.get(pool)
        if spec is None or not spec.connections:
            return None
        lane = self._pool_lanes.get(pool)
        if lane is None:
            lane = self._pool_lanes[pool] = asyncio.Semaphore(spec.connections)
        return lane

    def source_address(self, pool: str) -> str | None:
        """The local address the next session of ``pool`` comes from (round robin)."""
        addresses = self._addresses.get(pool)
        return next(addresses) if addresses is not None else None

    def admit(self, destination: str, wanted: int) -> Admission:
        """Take up to ``wanted`` messages' tokens from the destination's bucket and its
        pool's: how many may go now, and in how long the first of the rest may."""
        limits = self.limits(destination)
        buckets = []
        if limits.rate_per_minute > 0:
            buckets.append((f"d:{destination}", limits.rate_per_minute))
        pool = self._settings.pools.get(limits.pool)
        if pool is not None and pool.rate_per_minute > 0:
            buckets.append((f"p:{limits.pool}", pool.rate_per_minute))
        if not buckets:
            return Admission(wanted, 0.0)
        for allowed in range(wanted):
            for key, per_minute in buckets:
                rate = per_minute / 60.0
                burst = max(1, int(rate * BURST_SECONDS))
                wait = self._buckets.take(key, rate, burst)
                if wait > 0:
                    # Tokens taken from the other buckets for this message are not given
                    # back: at worst a pool sends a little under its allowance.
                    return Admission(allowed, wait)
        return Admission(wanted, 0.0)
