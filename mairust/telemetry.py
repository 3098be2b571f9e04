"""What one process counts of the mail it handles: Prometheus counters and latency
histograms per stage, and per-minute counts for the live charts of ``/api/v1/stats``.

Each host (front-end, pipeline worker, delivery loop, a test) makes one
:class:`PlatformMetrics` and hands it to the parts it runs (SMTP sessions, the spool, the
pipeline runner, the delivery loop); nothing here is process-global. The API reads them
through a :data:`TelemetrySource` (in the cluster: a Ray call to each named actor at
scrape time), so a :class:`TelemetrySnapshot` is plain, picklable data: the Prometheus
text of the process and its per-minute counts.

Label values come from closed vocabularies, so series stay bounded whatever clients
send: listener names, our own reply codes (anything not shaped like one is ``other``),
the configured stage names, delivery results.
"""

from __future__ import annotations

import re
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

# Seconds. The accept path's budget is tens of milliseconds; a delivery attempt's seconds.
_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# How many minutes of per-minute counts a process keeps (the longest /stats window).
MINUTES_KEPT = 60
OTHER = "other"
_CODE = re.compile(r"[2-5][0-9][0-9]")
_ENHANCED = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")

# Names of the per-minute counts (closed; the stats service knows each one).
MESSAGES_IN = "messages_in"
ROWS_QUEUED = "rows_queued"  # local queue rows made by spool commits
ROWS_SETTLED = "rows_settled"  # local queue rows delivered or failed for good
MESSAGES_OUT_LOCAL = "delivered_local"
MESSAGES_OUT_REMOTE = "delivered_remote"
REPLY_PREFIX = "reply:"  # + the reply code
HOOK_CALLS_PREFIX = "hook_calls:"  # + the plugin name
HOOK_MS_PREFIX = "hook_ms:"  # + the plugin name: latency sum, whole milliseconds
HOOK_VERDICT_PREFIX = "hook_verdict:"  # + the plugin name, ":", the verdict it answered
AUTH_PREFIX = "auth:"  # + the method (spf, dkim, dmarc, arc), ":", its RFC 8601 word


def reply_code(line: str) -> tuple[str, str] | None:
    """(code, enhanced code) of the last line of a reply; None for a continuation line."""
    if len(line) > 3 and line[3] == "-":
        return None
    code = line[:3] if _CODE.fullmatch(line[:3]) else OTHER
    words = line[4:].split(" ", 1)
    enhanced = words[0] if words and _ENHANCED.fullmatch(words[0]) else OTHER
    return code, enhanced


@dataclass(frozen=True, slots=True)
class TelemetrySnapshot:
    """One process's figures: its Prometheus text and ``{minute: {count name: n}}`` with
    minutes as Unix time // 60."""

    process: str
    exposition: str
    minutes: Mapping[int, Mapping[str, int]] = field(default_factory=dict)


# Every process's snapshot, asked when the API answers /metrics or /stats.
TelemetrySource = Callable[[], Sequence[TelemetrySnapshot]]


class MinuteCounts:
    """Counts per wall-clock minute for the last ``kept`` minutes."""

    def __init__(self, kept: int = MINUTES_KEPT, clock: Callable[[], float] = time.time) -> None:
        self._kept = kept
        self._clock = clock
        self._minutes: dict[int, Tally[str]] = {}

    def add(self, name: str, amount: int = 1) -> None:
        minute = int(self._clock() // 60)
        tally = self._minutes.get(minute)
        if tally is None:
            tally = self._minutes[minute] = Tally()
            # A new minute: forget the ones that fell out of the window.
            for old in [m for m in self._minutes if m <= minute - self._kept]:
                del self._minutes[old]
        tally[name] += amount

    def snapshot(self) -> dict[int, dict[str, int]]:
        return {minute: dict(tally) for minute, tally in self._minutes.items()}


class PlatformMetrics:
    """The counters of one process; every ``observe_*`` is cheap (no I/O)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.minutes = MinuteCounts(clock=clock)
        r = self.registry
        self.smtp_sessions = Counter(
            "mairust_smtp_sessions", "SMTP connections accepted, by listener.", ["listener"],
            registry=r,
        )  # fmt: skip
        self.smtp_sessions_open = Gauge(
            "mairust_smtp_sessions_open", "SMTP connections open now.", registry=r
        )
        self.smtp_replies = Counter(
            "mairust_smtp_replies",
            "SMTP replies sent (final lines), by reply code and enhanced status code.",
            ["code", "enhanced"],
            registry=r,
        )
        self.smtp_accept = Histogram(
            "mairust_smtp_accept_duration_seconds",
            "From the end of DATA to the reply (checks, hooks, spool commit), by reply class.",
            ["outcome"],
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.spool_commits = Histogram(
            "mairust_spool_commit_duration_seconds",
            "One group commit of the spool (metadata rows and events), by result.",
            ["result"],
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.spool_messages = Counter(
            "mairust_spool_messages",
            "Messages the spool made durable (committed) or refused (failed).",
            ["result"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "mairust_pipeline_stage_duration_seconds",
            "One pipeline stage over one leased batch, by stage name.",
            ["stage"],
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.stage_rows = Counter(
            "mairust_pipeline_stage_rows", "Queue rows a stage was run on.", ["stage"],
            registry=r,
        )  # fmt: skip
        self.pipeline_rows = Counter(
            "mairust_pipeline_rows",
            "Queue rows settled by the pipeline, by outcome (delivered, deferred, failed).",
            ["outcome"],
            registry=r,
        )
        self.delivery_attempts = Histogram(
            "mairust_delivery_attempt_duration_seconds",
            "One outbound delivery attempt (connection to reply), by result.",
            ["result"],
            buckets=_SLOW_BUCKETS,
            registry=r,
        )

    # SMTP edge
    def session_opened(self, listener: str) -> None:
        self.smtp_sessions.labels(listener).inc()
        self.smtp_sessions_open.inc()

    def session_closed(self) -> None:
        self.smtp_sessions_open.dec()

    def reply_sent(self, line: str) -> None:
        codes = reply_code(line)
        if codes is None:
            return
        self.smtp_replies.labels(*codes).inc()
        self.minutes.add(REPLY_PREFIX + codes[0])

    def accepted(self, seconds: float, reply: str) -> None:
        """The end of one DATA: ``reply`` is what the client was answered."""
        outcome = f"{reply[0]}xx" if reply[:1] in ("2", "4", "5") else OTHER
        self.smtp_accept.labels(outcome).observe(seconds)

    # Spool
    def spool_committed(self, messages: int, local_rows: int, seconds: float) -> None:
        self.spool_commits.labels("committed").observe(seconds)
        self.spool_messages.labels("committed").inc(messages)
        self.minutes.add(MESSAGES_IN, messages)
        self.minutes.add(ROWS_QUEUED, local_rows)

    def spool_failed(self, messages: int, seconds: float) -> None:
        self.spool_commits.labels("failed").observe(seconds)
        self.spool_messages.labels("failed").inc(messages)

    # Pipeline
    def stage_ran(self, stage: str, rows: int, seconds: float) -> None:
        self.stage_seconds.labels(stage).observe(seconds)
        self.stage_rows.labels(stage).inc(rows)

    def rows_settled(self, delivered: int, deferred: int, failed: int) -> None:
        settled = {"delivered": delivered, "deferred": deferred, "failed": failed}
        for outcome, count in settled.items():
            if count:
                self.pipeline_rows.labels(outcome).inc(count)
        self.minutes.add(MESSAGES_OUT_LOCAL, delivered)
        self.minutes.add(ROWS_SETTLED, delivered + failed)

    # Outbound
    def attempt_made(self, result: str, seconds: float) -> None:
        self.delivery_attempts.labels(result).observe(seconds)
        if result == "delivered":
            self.minutes.add(MESSAGES_OUT_REMOTE)

    # Inbound authentication (the checks at DATA)
    def auth_checked(self, words: Mapping[str, str]) -> None:
        """One message's results, one RFC 8601 word per method (``summary_words``)."""
        for method, word in words.items():
            self.minutes.add(f"{AUTH_PREFIX}{method}:{word}")

    # Hooks (their Prometheus figures are the store's: mairust.api.plugin_metrics)
    def hook_calls(self, calls: Iterable[tuple[str, float, str]]) -> None:
        """``(plugin, latency_ms, verdict)`` of calls just made, for the per-minute latency
        and verdicts (the verdict kind the call came to, its binding's on a failure)."""
        for plugin, latency_ms, verdict in calls:
            self.minutes.add(HOOK_CALLS_PREFIX + plugin)
            self.minutes.add(HOOK_MS_PREFIX + plugin, round(latency_ms))
            self.minutes.add(f"{HOOK_VERDICT_PREFIX}{plugin}:{verdict}")

    def snapshot(self, process: str) -> TelemetrySnapshot:
        return TelemetrySnapshot(
            process=process,
            exposition=generate_latest(self.registry).decode("utf-8"),
            minutes=self.minutes.snapshot(),
        )
