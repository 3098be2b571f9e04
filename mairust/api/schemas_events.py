"""Request and response bodies of the event log, the message trace and webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mairust.events import Event, RecordType, WebhookType
from mairust.model.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

_URL_PATTERN = r"^[^\x00-\x20\x7f]+$"


class EventOut(BaseModel):
    id: str
    type: RecordType
    at: datetime
    tenant_id: str
    queue_id: str | None = Field(description="Our id of the message (`250 … queued as`).")
    message_id: str | None = Field(description="The message's Message-ID header, when known.")
    recipient: str | None
    reply: str | None = Field(description="The SMTP reply of a refusal.")
    detail: dict[str, Any] | None

    @classmethod
    def from_event(cls, event: Event) -> EventOut:
        return cls(
            id=event.id,
            type=event.kind,
            at=event.at,
            tenant_id=event.tenant_id,
            queue_id=event.message_id,
            message_id=event.header_message_id,
            recipient=event.recipient,
            reply=event.reply,
            detail=dict(event.detail) if event.detail else None,
        )


class EventPage(BaseModel):
    items: list[EventOut]
    next: str | None = Field(description="Cursor of the next page (`before`); null at the end.")


class TraceOut(BaseModel):
    items: list[EventOut] = Field(description="Everything recorded, oldest first.")


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, pattern=_URL_PATTERN)
    event_types: list[WebhookType] = Field(
        default_factory=list, max_length=20, description="Empty: every type."
    )
    enabled: bool = True
    tenant_id: str | None = Field(
        None, max_length=64, description="The platform admin names the tenant; others omit it."
    )


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=8, max_length=2000, pattern=_URL_PATTERN)
    event_types: list[WebhookType] | None = Field(None, max_length=20)
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: str
    tenant_id: str
    url: str
    event_types: list[str]
    enabled: bool
    created_at: datetime

    @classmethod
    def from_endpoint(cls, endpoint: WebhookEndpoint) -> WebhookOut:
        return cls(
            id=endpoint.id,
            tenant_id=endpoint.tenant_id,
            url=endpoint.url,
            event_types=list(endpoint.event_types),
            enabled=endpoint.enabled,
            created_at=endpoint.created_at,
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (`whsec_…`), shown in this answer only.")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None

    @classmethod
    def from_delivery(cls, delivery: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            state=delivery.state,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            last_status=delivery.last_status,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
        )


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
