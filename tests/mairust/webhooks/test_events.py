"""Publishing an event: the Standard Webhooks payload shape, serialised once and stably, and
publishing the same event twice enqueues it once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from mairust.model.scope import PLATFORM
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_migrations import upgrade_to_head
from mairust.webhooks.events import event_body, publish_event, publish_event_async

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
    upgrade_to_head(url)
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
