"""How many members a worker pool should have: the one sizing rule of the pipeline
workers, the auth checkers and the delivery workers (pure: no Ray, no I/O, no clock).

A pool's load is what waits for it (ready queue rows, auth requests not yet answered)
plus what its members hold now. The rule:

- the size is always inside the configured bounds (a size outside them, after a config
  change, is brought inside at once, cooldown or not);
- it grows at once to the members the load needs (``ceil(load / per_member)``);
- it shrinks one member at a time, and only while nothing waits;
- after a change nothing changes for ``cooldown_seconds``: a pool on the edge of two
  sizes does not flap between them.

The scaler in ``cluster/`` asks :meth:`PoolSizer.decide` every scale interval and does
what it answers; the sizer remembers when the size last changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mairust.config import Settings

PIPELINE = "pipeline"
AUTH = "auth"
DELIVERY = "delivery"
POOL_NAMES = (PIPELINE, AUTH, DELIVERY)


@dataclass(frozen=True, slots=True)
class PoolBounds:
    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.maximum:
            raise ValueError(f"pool bounds {self.minimum}..{self.maximum} are not 0 <= min <= max")

    def clamp(self, size: int) -> int:
        return max(self.minimum, min(self.maximum, size))

    @property
    def fixed(self) -> bool:
        return self.minimum == self.maximum


@dataclass(frozen=True, slots=True)
class SizingRule:
    """One pool's bounds, the load one member is meant to carry, and the quiet time."""

    bounds: PoolBounds
    per_member: int
    cooldown_seconds: float
    # The size the pool starts with (inside the bounds).
    initial: int

    def __post_init__(self) -> None:
        if self.per_member < 1:
            raise ValueError("per_member must be at least 1")
        if self.cooldown_seconds < 0:
            raise ValueError("cooldown_seconds must not be negative")


@dataclass(frozen=True, slots=True)
class PoolLoad:
    """What waits for the pool (ready rows, requests not yet sent to a member) and what
    its members hold now."""

    waiting: int
    in_flight: int

    @property
    def total(self) -> int:
        return max(0, self.waiting) + max(0, self.in_flight)


def needed_members(load: PoolLoad, per_member: int) -> int:
    """Members that carry ``load`` at ``per_member`` each (0 for no load)."""
    return math.ceil(load.total / per_member)


class PoolSizer:
    """The rule above for one pool, remembering when it last changed the size."""

    def __init__(self, rule: SizingRule) -> None:
        self.rule = rule
        self._changed_at: float | None = None

    def decide(self, load: PoolLoad, current: int, now: float) -> int:
        """The size the pool should have now; a different answer starts the cooldown."""
        wanted = self._wanted(load, current, now)
        if wanted != current:
            self._changed_at = now
        return wanted

    def _wanted(self, load: PoolLoad, current: int, now: float) -> int:
        bounds = self.rule.bounds
        inside = bounds.clamp(current)
        if inside != current:
            return inside
        if self._changed_at is not None and now - self._changed_at < self.rule.cooldown_seconds:
            return current
        needed = bounds.clamp(needed_members(load, self.rule.per_member))
        if needed > current:
            return needed
        if needed < current and load.waiting <= 0:
            return current - 1
        return current


def sizing_rules(settings: Settings) -> dict[str, SizingRule]:
    """Each pool's rule from ``[cluster]`` (and the starting sizes ``pipeline_workers``,
    ``[auth] checkers``, ``[outbound] workers``); a pool left out has no member at all
    (auth checks off, or outbound delivery with 0 workers and no maximum)."""
    cluster = settings.cluster
    pools = {
        PIPELINE: (
            cluster.pipeline_workers,
            cluster.pipeline_workers_min,
            cluster.pipeline_workers_max,
            cluster.pipeline_rows_per_worker,
        ),
        AUTH: (
            settings.auth.checkers if settings.auth.enabled else 0,
            cluster.auth_checkers_min,
            cluster.auth_checkers_max,
            cluster.auth_requests_per_checker,
        ),
        DELIVERY: (
            settings.outbound.workers,
            cluster.delivery_workers_min,
            cluster.delivery_workers_max,
            cluster.delivery_rows_per_worker,
        ),
    }
    rules = {}
    for name, (initial, low, high, per_member) in pools.items():
        if name == AUTH and not settings.auth.enabled:
            continue
        # Unset bounds: the starting size (so today's fixed-size configs stay fixed).
        minimum = low if low is not None else initial if high is None else min(initial, high)
        bounds = PoolBounds(minimum, high if high is not None else max(initial, minimum))
        if bounds.maximum == 0:
            continue
        rules[name] = SizingRule(
            bounds=bounds,
            per_member=per_member,
            cooldown_seconds=cluster.pool_cooldown_seconds,
            initial=bounds.clamp(initial),
        )
    return rules
