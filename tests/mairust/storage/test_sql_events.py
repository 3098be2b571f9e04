"""The event log on every metadata backend (conftest.METADATA_URLS): events written in the
spool's commit and the settle transaction, read only through the tenant, paged by cursor
and filtered, traced by queue id, Message-ID or recipient, and drained for webhooks."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mairust.errors import InvalidInput, NotFound
from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.message import SpoolRecord
from mairust.model.scope import PLATFORM, Scope, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.query_plans import plan_of_ordered_select, sorts

from .conftest import RecordMaker

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(tenant: str, kind: RecordType, at: datetime, **fields: Any) -> Event:
    return Event(id=new_id(), tenant_id=tenant, kind=kind, at=at, **fields)


def test_events_are_reached_only_through_their_tenant(metadata_store: SqlMetadataStore) -> None:
    store = metadata_store
    mine = event("ta", RecordType.RECEPTION, T0, message_id="q1", recipient="a@a.test")
    theirs = event("tb", RecordType.RECEPTION, T0, message_id="q1", recipient="b@b.test")
    store.append_events([mine, theirs])
    assert store.list_events(TenantScope("ta")) == [mine]
    assert store.list_events(TenantScope("tb")) == [theirs]
    assert {e.id for e in store.list_events(PLATFORM)} == {mine.id, theirs.id}
    assert store.trace_events(TenantScope("ta"), message_id="q1") == [mine]
    # A user's scope (one mailbox) sees no event, and a cursor of another tenant is NotFound.
    assert store.list_events(TenantScope("ta", mailbox_id="m1")) == []
    assert store.trace_events(TenantScope("ta", mailbox_id="m1"), message_id="q1") == []
    with pytest.raises(NotFound):
        store.list_events(TenantScope("ta"), before=theirs.id)


def test_the_log_pages_newest_first_with_filters(metadata_store: SqlMetadataStore) -> None:
    store = metadata_store
    kinds = [RecordType.RECEPTION, RecordType.DELIVERY, RecordType.REJECTION] * 3
    written = [
        event("ta", kind, T0 + timedelta(seconds=n), detail={"n": n, "word": "é"})
        for n, kind in enumerate(kinds)
    ]
    store.append_events(written)
    newest_first = list(reversed(written))
    first = store.list_events(TenantScope("ta"), limit=4)
    second = store.list_events(TenantScope("ta"), limit=4, before=first[-1].id)
    assert first + second == newest_first[:8]
    assert first[0].detail == {"n": 8, "word": "é"} and first[0].at == written[8].at
    deliveries = store.list_events(TenantScope("ta"), kinds=[RecordType.DELIVERY])
    assert [e.id for e in deliveries] == [e.id for e in newest_first if e.kind == "Delivery"]
    window = store.list_events(
        TenantScope("ta"), since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=5)
    )
    assert [e.id for e in window] == [written[4].id, written[3].id, written[2].id]


def test_trace_by_header_takes_in_every_event_of_its_queue_ids(
    metadata_store: SqlMetadataStore,
) -> None:
    store = metadata_store
    header = "<m1@remote.test>"
    refused = event(
        "ta", RecordType.REJECTION, T0, header_message_id=header, recipient="x@a.test", reply="550"
    )
    received = event(
        "ta",
        RecordType.RECEPTION,
        T0 + timedelta(seconds=1),
        message_id="q1",
        header_message_id=header,
        recipient="a@a.test",
    )
    # A failure before the message was parsed does not know its header, only its queue id.
    deferred = event(
        "ta",
        RecordType.TRANSIENT_FAILURE,
        T0 + timedelta(seconds=2),
        message_id="q1",
        recipient="a@a.test",
    )
    other = event("ta", RecordType.RECEPTION, T0, message_id="q2", recipient="a@a.test")
    elsewhere = event("tb", RecordType.RECEPTION, T0, message_id="q9", header_message_id=header)
    store.append_events([deferred, other, received, refused, elsewhere])
    assert store.trace_events(TenantScope("ta"), header_message_id=header) == [
        refused,
        received,
        deferred,
    ]
    assert store.trace_events(TenantScope("ta"), recipient="a@a.test") == [
        other,
        received,
        deferred,
    ]
    assert store.trace_events(TenantScope("ta"), message_id="q1") == [received, deferred]
    assert store.trace_events(TenantScope("tb"), message_id="q1") == []
    with pytest.raises(InvalidInput):
        store.trace_events(TenantScope("ta"))
    with pytest.raises(InvalidInput):
        store.trace_events(TenantScope("ta"), message_id="q1", recipient="a@a.test")


def test_events_commit_with_their_messages_and_with_the_settle(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    store = metadata_store
    base = make_record("a@a.test")
    received = event("ta", RecordType.RECEPTION, T0, message_id=base.ref.id, recipient="a@a.test")
    noted = event("ta", RecordType.REJECTION, T0, recipient="z@a.test", reply="550 5.1.1")
    record = SpoolRecord(ref=base.ref, envelope=base.envelope, events=(received,))
    store.commit_messages([record], [noted])
    assert {e.id for e in store.list_events(TenantScope("ta"))} == {received.id, noted.id}
    # Refusals alone (no message waiting) are committed too.
    alone = event("ta", RecordType.REJECTION, T0, recipient="y@a.test", reply="550 5.1.1")
    store.commit_messages([], [alone])
    assert alone in store.list_events(TenantScope("ta"))
    # A message that cannot be committed takes its events with it (one transaction).
    again = SpoolRecord(
        ref=base.ref,
        envelope=base.envelope,
        events=(event("ta", RecordType.RECEPTION, T0, message_id=base.ref.id),),
    )
    with pytest.raises(Exception):  # noqa: B017 - Conflict on every backend
        store.commit_messages([again])
    assert len(store.list_events(TenantScope("ta"))) == 3
    (item,) = store.lease_batch("w1", 10, 60)
    delivered = event("ta", RecordType.DELIVERY, T0, message_id=base.ref.id, recipient="a@a.test")
    store.settle("w1", done=[item.id], events=[(item.id, delivered)])
    assert store.trace_events(TenantScope("ta"), message_id=base.ref.id) == [received, delivered]
    # Settled again (the answer was lost): the row is no longer held, no second event.
    again_delivered = event("ta", RecordType.DELIVERY, T0, message_id=base.ref.id)
    store.settle("w1", done=[item.id], events=[(item.id, again_delivered)])
    assert store.trace_events(TenantScope("ta"), message_id=base.ref.id) == [received, delivered]


def test_the_drain_sees_each_event_until_it_is_published(
    metadata_store: SqlMetadataStore,
) -> None:
    store = metadata_store
    # Oldest id first (ids of one millisecond sort by their random part).
    written = sorted((event("ta", RecordType.RECEPTION, T0) for _ in range(5)), key=lambda e: e.id)
    store.append_events(written)
    first = store.unpublished_events(3)
    assert [e.id for e in first] == [e.id for e in written[:3]]
    store.mark_events_published([e.id for e in first])
    assert [e.id for e in store.unpublished_events(10)] == [e.id for e in written[3:]]
    store.mark_events_published([e.id for e in written[3:]])
    assert store.unpublished_events(10) == []
    assert len(store.list_events(TenantScope("ta"))) == 5  # published events stay in the log


@pytest.mark.parametrize("scope", [PLATFORM, TenantScope("ta")], ids=["platform", "tenant"])
def test_a_page_of_the_log_is_read_from_an_index_not_sorted(
    metadata_store: SqlMetadataStore, scope: Scope
) -> None:
    """The log grows fastest of all tables: no page may sort all of it (the platform's
    listing had no index before 0033), the first page nor one after a cursor."""
    store = metadata_store
    written = [event("ta", RecordType.RECEPTION, T0 + timedelta(seconds=n)) for n in range(3)]
    store.append_events(written)
    for before in (None, written[-1].id):
        plan = plan_of_ordered_select(
            store.engine, functools.partial(store.list_events, scope, limit=2, before=before)
        )
        assert plan and not sorts(plan), plan
