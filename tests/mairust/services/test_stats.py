"""Per-minute series: summed over processes, the queue depth walked back from the store's,
the window bounded, the platform admin's only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mairust.errors import Forbidden, InvalidInput
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.services.stats import StatsService
from mairust.telemetry import PlatformMetrics
from tests.mairust.services.conftest import ADMIN

MINUTE = 29_000_000  # Unix minutes: some day in 2025


def at(minute: int, second: float = 30.0) -> float:
    return minute * 60 + second


def queued_rows(stores, count: int) -> None:
    for _ in range(count):
        ref = MessageRef(new_id(), 10, "0" * 64, new_id())
        envelope = Envelope("a@b.example", ("jane@example.com",), datetime.now(UTC))
        stores.metadata.commit_messages([SpoolRecord(ref, envelope)])


def test_minutes_are_summed_over_processes_and_the_depth_walked_back(stores):
    now = [at(MINUTE - 2)]
    front, worker = PlatformMetrics(clock=lambda: now[0]), PlatformMetrics(clock=lambda: now[0])
    # Two minutes ago: 4 messages in, 1 delivered. A minute ago: 2 delivered. Now: 1 in.
    front.spool_committed(messages=4, local_rows=4, seconds=0.01)
    for reply in ("354 End data", "250 2.0.0 queued", "550 5.1.1 no such user"):
        front.reply_sent(reply)
    worker.rows_settled(delivered=1, deferred=0, failed=0)
    worker.hook_calls([("spam", 10.0), ("spam", 30.0)])
    now[0] = at(MINUTE - 1)
    worker.rows_settled(delivered=2, deferred=0, failed=0)
    now[0] = at(MINUTE)
    front.spool_committed(messages=1, local_rows=1, seconds=0.01)
    queued_rows(stores, 2)  # the store's truth now: 4 + 1 in, 3 out

    service = StatsService(
        stores.metadata,
        lambda: [front.snapshot("fe"), worker.snapshot("w0")],
        clock=lambda: at(MINUTE),
    )
    series = service.series(ADMIN, 4)

    assert series.processes == ["fe", "w0"]
    assert series.queue_depth_now == 2
    assert [m.minute for m in series.minutes] == [MINUTE - 3, MINUTE - 2, MINUTE - 1, MINUTE]
    assert [m.messages_in for m in series.minutes] == [0, 4, 0, 1]
    assert [m.messages_out for m in series.minutes] == [0, 1, 2, 0]
    assert [m.queue_depth for m in series.minutes] == [0, 3, 1, 2]
    assert series.minutes[1].replies == {"250": 1, "354": 1, "550": 1}
    spam = series.minutes[1].hooks["spam"]
    assert (spam.calls, spam.mean_ms) == (2, 20.0)


def test_without_a_source_the_series_are_zero_but_the_depth_is_the_stores(stores):
    queued_rows(stores, 3)
    series = StatsService(stores.metadata, None, clock=lambda: at(MINUTE)).series(ADMIN, 2)
    assert [(m.messages_in, m.queue_depth) for m in series.minutes] == [(0, 3), (0, 3)]
    assert series.processes == []


def test_the_window_is_bounded_and_the_platform_admins(stores, tenants):
    service = StatsService(stores.metadata, None)
    for minutes in (0, -1, 61):
        with pytest.raises(InvalidInput):
            service.series(ADMIN, minutes)
    admin_a = Principal(
        Role.TENANT_ADMIN, TenantScope(tenants.a.id), frozenset(Permission), "ta", "x"
    )
    with pytest.raises(Forbidden):
        service.series(admin_a, 5)
