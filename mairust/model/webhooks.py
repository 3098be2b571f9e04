"""Outgoing webhooks: a tenant's endpoints and the deliveries of the durable outbox.

A delivery is one event for one endpoint. Its id is the ``webhook-id`` the receiver
sees, the same on every attempt, so a receiver can drop a retry it already handled;
its body is serialised once, at enqueue time, so every attempt sends (and signs) the
same bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at
    LEASED = "leased"  # a delivery loop holds it until lease_until
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # given up (max attempts, or a destination refused); kept, visible


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where a tenant wants its events POSTed. The signing secret is not here: only the id
    under which the secret store keeps it."""

    id: str
    tenant_id: str
    url: str
    secret_id: str
    # Event types sent to this endpoint; empty: every type.
    event_types: tuple[str, ...]
    enabled: bool
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.event_types or event_type in self.event_types)


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event on its way to one endpoint (with the endpoint's url and secret id, as
    read when the row was last loaded). ``tenant_id`` None: a webhook plugin's delivery,
    the platform's own."""

    id: str
    tenant_id: str | None
    endpoint_id: str
    event_id: str
    event_type: str
    body: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    url: str
    secret_id: str
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    last_status: int | None = None
    delivered_at: datetime | None = None
