"""Per-minute series: summed over processes (hook verdicts and authentication results
too), the queue depth walked back from the store's, the queues now by state and the
deferred recipients by destination, the window bounded, the platform admin's only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import Forbidden, InvalidInput
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import AttemptOutcome, AttemptResult, DeliveryAttempt, RemoteRecipient
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.services.stats import (
    DESTINATIONS_SHOWN,
    OTHER_DESTINATIONS,
    StatsService,
    busiest,
)
from mairust.telemetry import PlatformMetrics
from tests.mairust.services.conftest import ADMIN

DEFERRED = AttemptResult.DEFERRED

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
    worker.hook_calls([("spam", 10.0, "continue"), ("spam", 30.0, "reject")])
    front.auth_checked({"spf": "pass", "dkim": "none", "dmarc": "fail"})
    front.auth_checked({"spf": "pass"})
    now[0] = at(MINUTE - 1)
    worker.rows_settled(delivered=2, deferred=0, failed=0)
    now[0] = at(MINUTE)
    front.spool_committed(messages=1, local_rows=1, seconds=0.01)
    queued_rows(stores, 2)  # the store's truth now: 4 + 1 in, 3 out

    service = StatsService(
        stores.metadata,
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
    assert series.minutes[1].hook_verdicts == {"spam": {"continue": 1, "reject": 1}}
    assert series.minutes[1].auth == {
        "dkim": {"none": 1},
        "dmarc": {"fail": 1},
        "spf": {"pass": 2},
    }
    assert series.minutes[0].hook_verdicts == {} and series.minutes[0].auth == {}
    assert series.local_queue_now == {"queued": 2, "leased": 0}


def test_without_a_source_the_series_are_zero_but_the_depth_is_the_stores(stores):
    queued_rows(stores, 3)
    service = StatsService(stores.metadata, stores.metadata, None, clock=lambda: at(MINUTE))
    series = service.series(ADMIN, 2)
    assert [(m.messages_in, m.queue_depth) for m in series.minutes] == [(0, 3), (0, 3)]
    assert series.processes == []


def test_the_window_is_bounded_and_the_platform_admins(stores, tenants):
    service = StatsService(stores.metadata, stores.metadata, None)
    for minutes in (0, -1, 61):
        with pytest.raises(InvalidInput):
            service.series(ADMIN, minutes)
    admin_a = Principal(
        Role.TENANT_ADMIN, TenantScope(tenants.a.id), frozenset(Permission), "ta", "x"
    )
    with pytest.raises(Forbidden):
        service.series(admin_a, 5)


def deferred_rows(stores, *remote: str) -> None:
    """Outbound recipients of one submitted message, tried once and deferred."""
    ref = MessageRef(new_id(), 10, "0" * 64, new_id())
    envelope = Envelope("ann@example.com", remote, datetime.now(UTC))
    recipients = tuple(RemoteRecipient(address, "tenant-a") for address in remote)
    stores.metadata.commit_messages([SpoolRecord(ref, envelope, remote=recipients)])
    now = datetime.now(UTC)
    later = [
        AttemptOutcome(
            DeliveryAttempt(item.id, item.message.id, item.recipient, now, DEFERRED, "451 4.4.1"),
            now + timedelta(minutes=5),
        )
        for item in stores.metadata.lease_outbound("loop/1", 100, 60, now)
    ]
    stores.metadata.settle_outbound("loop/1", now, [], later, [])


def test_the_queues_now_by_state_and_the_deferred_recipients_by_destination(stores):
    deferred_rows(stores, "a@far.test", "b@far.test", "c@near.test")
    queued_rows(stores, 1)
    series = StatsService(stores.metadata, stores.metadata, None).series(ADMIN, 1)
    assert series.local_queue_now == {"queued": 1, "leased": 0}
    # Every waiting state is listed; final ones (delivered, bounced) are not.
    assert series.outbound_queue_now == {"scheduled": 0, "deferred": 3, "leased": 0, "held": 0}
    assert series.deferred_by_destination == {"far.test": 2, "near.test": 1}


def test_the_busiest_destinations_are_shown_and_the_rest_summed():
    per_destination = {f"d{n:02}.test": n for n in range(1, 13)}
    shown = list(busiest(per_destination).items())
    assert shown[:2] == [("d12.test", 12), ("d11.test", 11)]
    assert len(shown) == DESTINATIONS_SHOWN + 1
    assert shown[-1] == (OTHER_DESTINATIONS, 1 + 2)
    assert busiest({"b.test": 1, "a.test": 1}) == {"a.test": 1, "b.test": 1}
