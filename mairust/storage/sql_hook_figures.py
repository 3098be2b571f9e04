"""A plugin's running totals and its circuit breakers in the SQL metadata store.

The totals (calls by outcome and verdict, the latency histogram) are added up in the same
transaction that appends calls to the log (``SqlPlugins.record_hook_calls``), so they are
never ahead of or behind the log, and every API replica reads the same figures from a
handful of rows. Breaker reports are one row per plugin and process, overwritten.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa

from mairust.model.plugins import (
    LATENCY_BUCKETS_MS,
    BreakerReport,
    HookCall,
    HookCallCount,
    HookLatencyCount,
)
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import UPSERT_INSERTS
from mairust.storage.sql_schema import hook_breakers, hook_call_counts, hook_call_latency


def latency_bucket(latency_ms: float) -> int:
    """The index of the histogram bucket a call of ``latency_ms`` falls in."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)


class SqlHookFigures:
    """The figures part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def _add_to_figures(self, conn: sa.Connection, calls: Sequence[HookCall]) -> None:
        """Add ``calls`` to the running totals, in the caller's transaction."""
        counts: Counter[tuple[str, str, str, str, str]] = Counter()
        sums: dict[tuple[str, str, str, str, str], float] = {}
        buckets: Counter[tuple[str, str, str, int]] = Counter()
        for call in calls:
            key = (call.plugin, call.point, call.mode, call.outcome, call.verdict)
            counts[key] += 1
            sums[key] = sums.get(key, 0.0) + call.latency_ms
            buckets[(call.plugin, call.point, call.mode, latency_bucket(call.latency_ms))] += 1
        upsert = UPSERT_INSERTS[self._db.dialect]
        # Sorted keys: two processes adding to the same rows lock them in one order.
        add_counts = upsert(hook_call_counts)
        conn.execute(
            add_counts.on_conflict_do_update(
                index_elements=["plugin", "point", "mode", "outcome", "verdict"],
                set_={
                    "calls": hook_call_counts.c.calls + add_counts.excluded.calls,
                    "latency_ms_sum": hook_call_counts.c.latency_ms_sum
                    + add_counts.excluded.latency_ms_sum,
                },
            ),
            [
                dict(
                    zip(("plugin", "point", "mode", "outcome", "verdict"), key, strict=True),
                    calls=counts[key],
                    latency_ms_sum=sums[key],
                )
                for key in sorted(counts)
            ],
        )
        add_buckets = upsert(hook_call_latency)
        conn.execute(
            add_buckets.on_conflict_do_update(
                index_elements=["plugin", "point", "mode", "bucket"],
                set_={"calls": hook_call_latency.c.calls + add_buckets.excluded.calls},
            ),
            [
                dict(zip(("plugin", "point", "mode", "bucket"), key, strict=True), calls=n)
                for key, n in sorted(buckets.items())
            ],
        )

    def hook_call_counts(self, plugin: str | None = None) -> list[HookCallCount]:
        query = hook_call_counts.select().order_by(*hook_call_counts.primary_key.columns)
        if plugin is not None:
            query = query.where(hook_call_counts.c.plugin == plugin)
        with self._db.read() as conn:
            return [
                HookCallCount(
                    row.plugin,
                    row.point,
                    row.mode,
                    row.outcome,
                    row.verdict,
                    row.calls,
                    row.latency_ms_sum,
                )
                for row in conn.execute(query)
            ]

    def hook_latency_counts(self, plugin: str | None = None) -> list[HookLatencyCount]:
        query = hook_call_latency.select().order_by(*hook_call_latency.primary_key.columns)
        if plugin is not None:
            query = query.where(hook_call_latency.c.plugin == plugin)
        with self._db.read() as conn:
            return [
                HookLatencyCount(
                    row.plugin, row.point, row.mode, LATENCY_BUCKETS_MS[row.bucket], row.calls
                )
                for row in conn.execute(query)
                if 0 <= row.bucket < len(LATENCY_BUCKETS_MS)
            ]

    def report_breaker(self, report: BreakerReport) -> None:
        insert = UPSERT_INSERTS[self._db.dialect](hook_breakers).values(
            plugin=report.plugin,
            holder=report.holder,
            state=report.state,
            changed_at=report.changed_at.astimezone(UTC),
            open_seconds=report.open_seconds,
            times_opened=report.times_opened,
        )
        with self._db.write() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["plugin", "holder"],
                    set_={
                        column: insert.excluded[column]
                        for column in ("state", "changed_at", "open_seconds", "times_opened")
                    },
                )
            )

    def forget_breakers(self, holder: str) -> None:
        with self._db.write() as conn:
            conn.execute(hook_breakers.delete().where(hook_breakers.c.holder == holder))

    def breaker_reports(self, plugin: str | None = None) -> list[BreakerReport]:
        query = hook_breakers.select().order_by(hook_breakers.c.plugin, hook_breakers.c.holder)
        if plugin is not None:
            query = query.where(hook_breakers.c.plugin == plugin)
        with self._db.read() as conn:
            return [
                BreakerReport(
                    row.plugin,
                    row.holder,
                    row.state,
                    row.changed_at,
                    row.open_seconds,
                    row.times_opened,
                )
                for row in conn.execute(query)
            ]
