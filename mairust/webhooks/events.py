"""Putting a tenant's event into the webhook outbox: the call the service layer makes.

The body follows the Standard Webhooks payload shape, ``{"type", "timestamp", "data"}``,
serialised ONCE here: every attempt then sends, and signs, the same bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mairust.model.webhooks import WebhookDelivery
from mairust.storage.protocols import WebhookOutbox


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
