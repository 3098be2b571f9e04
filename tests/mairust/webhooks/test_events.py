"""Publishing an event: the Standard Webhooks payload shape, serialised once and stably, and
publishing the same event twice enqueues it once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.scope import PLATFORM
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.webhooks.events import (
    event_body,
    publish_event,
    publish_event_async,
    publish_pending_events,
)
from tests.support.sqlite_template import upgrade_to_head_for_test

AT = datetime(2026, 11, 29, 13, 0, tzinfo=timezone(timedelta(hours=1)))


def test_the_body_is_the_standard_shape_in_a_stable_form() -> None:
    body = event_body("message.received", {"subject": "Grüße", "b": 1, "a": 2}, AT)
    assert json.loads(body) == {
        "type": "message.received",
        "timestamp": "2026-11-29T12:00:00Z",
        "data": {"subject": "Grüße", "b": 1, "a": 2},
    }
    assert body == (
        '{"data":{"a":2,"b":1,"subject":"Grüße"},'
        '"timestamp":"2026-11-29T12:00:00Z","type":"message.received"}'
    )


async def test_publishing_twice_enqueues_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    store = SqlMetadataStore(url)
    try:
        tenant = store.create_tenant("acme").id
        store.add_webhook_endpoint(tenant, "https://hooks.example/in", "sec-1")
        store.add_webhook_endpoint(tenant, "https://hooks.example/other", "sec-1", ["other"])
        first = publish_event(store, tenant, "evt-1", "message.received", {}, datetime.now(UTC))
        again = await publish_event_async(
            store, tenant, "evt-1", "message.received", {}, datetime.now(UTC)
        )
        assert [d.id for d in first] == [d.id for d in again]
        assert len(store.list_webhook_deliveries(PLATFORM)) == 1
    finally:
        store.close()


def test_the_drain_publishes_each_event_once_to_the_endpoints_that_want_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    store = SqlMetadataStore(url)
    try:
        a, b = store.create_tenant("a").id, store.create_tenant("b").id
        wants_all = store.add_webhook_endpoint(a, "https://hooks.example/all", "sec-1")
        store.add_webhook_endpoint(a, "https://hooks.example/bounces", "sec-1", ["message.bounced"])
        written = [
            Event(new_id(), a, RecordType.RECEPTION, AT, message_id="q1", recipient="x@a.test"),
            Event(new_id(), a, RecordType.DELIVERY, AT, message_id="q1", recipient="x@a.test"),
            # Tenant b has no endpoint: its event is marked published and goes nowhere.
            Event(new_id(), b, RecordType.RECEPTION, AT, message_id="q2"),
        ]
        store.append_events(written)
        assert publish_pending_events(store, store, limit=2) == 2
        assert publish_pending_events(store, store, limit=10) == 1
        assert publish_pending_events(store, store, limit=10) == 0
        deliveries = store.list_webhook_deliveries(PLATFORM)
        assert {d.endpoint_id for d in deliveries} == {wants_all.id}
        assert sorted(d.event_id for d in deliveries) == sorted(e.id for e in written[:2])
        bodies = {d.event_type: json.loads(d.body) for d in deliveries}
        assert set(bodies) == {"message.received", "message.delivered"}
        data = bodies["message.delivered"]["data"]
        assert data["message_id"] == "q1" and data["recipient"] == "x@a.test"
        assert data["record"] == "Delivery" and data["event_id"] == written[1].id
    finally:
        store.close()
