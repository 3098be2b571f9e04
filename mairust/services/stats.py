"""Per-minute series for the UI's live charts (``GET /api/v1/stats``), platform admin only.

No table keeps per-minute figures, and this session adds none: the series come from the
processes' own per-minute counts (``mairust.telemetry``, read through the telemetry
source) and the queue's state now (the metadata store):

- messages in: messages the spools committed; messages out: local queue rows delivered
  by the pipeline plus remote recipients delivered by the delivery loops;
- reply codes: SMTP replies sent (final lines) per code, every listener;
- hook latency and verdicts: calls, mean milliseconds and the verdicts they came to, per
  plugin, as the calling processes saw them;
- authentication results: one RFC 8601 word per method (SPF, DKIM, DMARC, ARC) for each
  message checked at DATA (mail from trusted networks is not checked, so not counted);
- queue depth (local rows queued or leased) at the end of each minute: today's depth from
  the store, walked back with each minute's rows queued and rows settled for good.

Beside the series, the queues now (the store's counts, not a history): the local rows and
the outbound recipients waiting in each state, and the deferred recipients per
destination, the busiest first.

Limits: a process keeps ``MINUTES_KEPT`` minutes and forgets them when it restarts (its
minutes are missing from the sums, and the depth walked back past them is off by what
they held; it is never shown below 0). A process that does not answer the source in time
is missing from that answer. Prometheus (``/metrics``) is the durable history.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mairust.errors import InvalidInput
from mairust.model.outbound import FINAL_STATES, RecipientState
from mairust.model.principal import Permission, Principal, Role
from mairust.model.queue import QueueState
from mairust.services.access import require
from mairust.storage.protocols import OutboundQueue, QueueStore
from mairust.telemetry import (
    AUTH_PREFIX,
    HOOK_CALLS_PREFIX,
    HOOK_MS_PREFIX,
    HOOK_VERDICT_PREFIX,
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
_OUTBOUND_WAITING = tuple(state for state in RecipientState if state not in FINAL_STATES)
# Destinations listed in deferred_by_destination (the busiest; the rest are summed).
DESTINATIONS_SHOWN = 10
OTHER_DESTINATIONS = "(others)"


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
    # Per plugin: how many calls came to each verdict kind.
    hook_verdicts: dict[str, dict[str, int]]
    # Per method: how many messages were given each word.
    auth: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class StatsSeries:
    minutes: list[MinuteStats]
    # Processes whose counts are in the sums (their names), and the depth now.
    processes: list[str]
    queue_depth_now: int
    # Rows waiting now in each state: the local queue's, the outbound queue's; deferred
    # outbound recipients per destination (the busiest DESTINATIONS_SHOWN, then the rest).
    local_queue_now: dict[str, int]
    outbound_queue_now: dict[str, int]
    deferred_by_destination: dict[str, int]


class StatsService:
    def __init__(
        self,
        queue: QueueStore,
        outbound: OutboundQueue,
        telemetry: TelemetrySource | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queue = queue
        self._outbound = outbound
        self._telemetry = telemetry
        self._clock = clock

    def series(self, principal: Principal, minutes: int) -> StatsSeries:
        """The last ``minutes`` minutes (the current one, partial, last)."""
        require(principal, Permission.READ, Role.ADMIN)
        if not 1 <= minutes <= MINUTES_KEPT:
            raise InvalidInput(f"minutes must be between 1 and {MINUTES_KEPT}")
        counts = self._queue.queue_counts()
        depth_now = sum(counts.get(state, 0) for state in _WAITING)
        outbound = self._outbound.outbound_counts()
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
            local_queue_now={state.value: counts.get(state, 0) for state in _WAITING},
            outbound_queue_now={
                state.value: outbound.by_state.get(state, 0) for state in _OUTBOUND_WAITING
            },
            deferred_by_destination=busiest(outbound.deferred_by_destination),
        )


def busiest(per_destination: Mapping[str, int]) -> dict[str, int]:
    """The busiest destinations (ties by name), the others summed under one name."""
    ranked = sorted(per_destination.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = dict(ranked[:DESTINATIONS_SHOWN])
    rest = sum(count for _, count in ranked[DESTINATIONS_SHOWN:])
    if rest:
        shown[OTHER_DESTINATIONS] = rest
    return shown


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
        hook_verdicts=_pairs(tally, HOOK_VERDICT_PREFIX),
        auth=_pairs(tally, AUTH_PREFIX),
    )


def _pairs(tally: Counter[str], prefix: str) -> dict[str, dict[str, int]]:
    """``{prefix}{outer}:{inner}`` counts as ``{outer: {inner: n}}``. The inner word is a
    closed one (a verdict kind, an RFC 8601 word) with no colon, so it is split off last."""
    pairs: dict[str, dict[str, int]] = {}
    for name, count in sorted(tally.items()):
        if name.startswith(prefix) and count:
            outer, _, inner = name[len(prefix) :].rpartition(":")
            if outer:
                pairs.setdefault(outer, {})[inner] = count
    return pairs
