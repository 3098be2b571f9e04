"""Per-minute series for the UI's live charts (``GET /api/v1/stats``), platform admin only.

No table keeps per-minute figures, and this session adds none: the series come from the
processes' own per-minute counts (``mairust.telemetry``, read through the telemetry
source) and the queue's state now (the metadata store):

- messages in: messages the spools committed; messages out: local queue rows delivered
  by the pipeline plus remote recipients delivered by the delivery loops;
- reply codes: SMTP replies sent (final lines) per code, every listener;
- hook latency: calls and mean milliseconds per plugin, as the calling processes saw them;
- queue depth (local rows queued or leased) at the end of each minute: today's depth from
  the store, walked back with each minute's rows queued and rows settled for good.

Limits: a process keeps ``MINUTES_KEPT`` minutes and forgets them when it restarts (its
minutes are missing from the sums, and the depth walked back past them is off by what
they held; it is never shown below 0). A process that does not answer the source in time
is missing from that answer. Prometheus (``/metrics``) is the durable history.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from mairust.errors import InvalidInput
from mairust.model.principal import Permission, Principal, Role
from mairust.model.queue import QueueState
from mairust.services.access import require
from mairust.storage.protocols import QueueStore
from mairust.telemetry import (
    HOOK_CALLS_PREFIX,
    HOOK_MS_PREFIX,
    MESSAGES_IN,
    MESSAGES_OUT_LOCAL,
    MESSAGES_OUT_REMOTE,
    MINUTES_KEPT,
    REPLY_PREFIX,
    ROWS_QUEUED,
    ROWS_SETTLED,
    TelemetrySource,
)

_WAITING = (QueueState.QUEUED, QueueState.LEASED)


@dataclass(frozen=True, slots=True)
class HookLatency:
    calls: int
    mean_ms: float


@dataclass(frozen=True, slots=True)
class MinuteStats:
    minute: int  # Unix time // 60: the minute that starts at minute * 60
    messages_in: int
    messages_out: int
    replies: dict[str, int]
    queue_depth: int
    hooks: dict[str, HookLatency]


@dataclass(frozen=True, slots=True)
class StatsSeries:
    minutes: list[MinuteStats]
    # Processes whose counts are in the sums (their names), and the depth now.
    processes: list[str]
    queue_depth_now: int


class StatsService:
    def __init__(
        self,
        queue: QueueStore,
        telemetry: TelemetrySource | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queue = queue
        self._telemetry = telemetry
        self._clock = clock

    def series(self, principal: Principal, minutes: int) -> StatsSeries:
        """The last ``minutes`` minutes (the current one, partial, last)."""
        require(principal, Permission.READ, Role.ADMIN)
        if not 1 <= minutes <= MINUTES_KEPT:
            raise InvalidInput(f"minutes must be between 1 and {MINUTES_KEPT}")
        counts = self._queue.queue_counts()
        depth_now = sum(counts.get(state, 0) for state in _WAITING)
        snapshots = list(self._telemetry()) if self._telemetry is not None else []
        now_minute = int(self._clock() // 60)
        summed: dict[int, Counter[str]] = {}
        for snapshot in snapshots:
            for minute, tally in snapshot.minutes.items():
                if minute > now_minute - MINUTES_KEPT:
                    summed.setdefault(minute, Counter()).update(tally)
        wanted = range(now_minute - minutes + 1, now_minute + 1)
        depths = _depths_back(summed, now_minute, wanted.start, depth_now)
        return StatsSeries(
            minutes=[_minute(m, summed.get(m, Counter()), depths[m]) for m in wanted],
            processes=sorted(snapshot.process for snapshot in snapshots),
            queue_depth_now=depth_now,
        )


def _depths_back(
    summed: dict[int, Counter[str]], now_minute: int, first: int, depth_now: int
) -> dict[int, int]:
    """Depth at the end of each minute from ``first`` to now, walked back from now."""
    depths: dict[int, int] = {}
    depth = depth_now
    for minute in range(now_minute, first - 1, -1):
        depths[minute] = max(depth, 0)
        tally = summed.get(minute, Counter())
        # Before this minute the queue held what it holds at its end, less what came in.
        depth -= tally[ROWS_QUEUED] - tally[ROWS_SETTLED]
    return depths


def _minute(minute: int, tally: Counter[str], depth: int) -> MinuteStats:
    replies = {
        name[len(REPLY_PREFIX) :]: count
        for name, count in sorted(tally.items())
        if name.startswith(REPLY_PREFIX)
    }
    hooks = {}
    for name, calls in sorted(tally.items()):
        if name.startswith(HOOK_CALLS_PREFIX) and calls:
            plugin = name[len(HOOK_CALLS_PREFIX) :]
            hooks[plugin] = HookLatency(calls, tally[HOOK_MS_PREFIX + plugin] / calls)
    return MinuteStats(
        minute=minute,
        messages_in=tally[MESSAGES_IN],
        messages_out=tally[MESSAGES_OUT_LOCAL] + tally[MESSAGES_OUT_REMOTE],
        replies=replies,
        queue_depth=depth,
        hooks=hooks,
    )
