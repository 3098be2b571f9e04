"""Putting a tenant's event into the webhook outbox: the call the service layer makes,
and the drain that publishes the event log (:func:`publish_pending_events`).

The body follows the Standard Webhooks payload shape, ``{"type", "timestamp", "data"}``,
serialised ONCE here: every attempt then sends, and signs, the same bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from mairust.model.scope import TenantScope
from mairust.model.webhooks import WebhookDelivery
from mairust.storage.protocols import EventStore, WebhookEndpoints, WebhookOutbox


def event_body(event_type: str, data: Mapping[str, Any], at: datetime) -> str:
    """The JSON text of one event (compact, keys in a stable order)."""
    payload = {
        "type": event_type,
        "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def publish_event(
    outbox: WebhookOutbox,
    tenant_id: str,
    event_id: str,
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
) -> list[WebhookDelivery]:
    """Enqueue the event for every endpoint of the tenant that wants it (durably, in one
    transaction; publishing the same ``event_id`` again adds nothing)."""
    return outbox.enqueue_webhook_event(
        tenant_id, event_id, event_type, event_body(event_type, data, at)
    )


async def publish_event_async(
    outbox: WebhookOutbox,
    tenant_id: str,
    event_id: str,
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
) -> list[WebhookDelivery]:
    """``publish_event`` off the event loop (the store is synchronous)."""
    return await asyncio.to_thread(publish_event, outbox, tenant_id, event_id, event_type, data, at)


class _Publisher(WebhookOutbox, WebhookEndpoints, Protocol):
    """The outbox and the endpoints it fans out to (the metadata store is both)."""


def publish_pending_events(store: EventStore, outbox: _Publisher, limit: int = 200) -> int:
    """Hand the events not yet published to the outbox; returns how many were handled.

    The drain that feeds webhooks from the event log. Events are written on the SMTP and
    pipeline paths in their own batch transactions; publishing them there would add an
    endpoint lookup and a fan-out to every one. Here, off those paths, each event goes to
    the endpoints of its tenant that want it (``publish_event``: idempotent per endpoint
    and event id, so a crash between publishing and marking sends nothing twice), then
    the page is marked published. Tenants without an endpoint cost one lookup a page.
    """
    batch = store.unpublished_events(limit)
    if not batch:
        return 0
    tenants = {event.tenant_id for event in batch}
    subscribed = {t for t in tenants if outbox.list_webhook_endpoints(TenantScope(t))}
    for event in batch:
        if event.tenant_id in subscribed:
            data = event.webhook_data()
            publish_event(outbox, event.tenant_id, event.id, event.webhook_type, data, event.at)
    store.mark_events_published([event.id for event in batch])
    return len(batch)
