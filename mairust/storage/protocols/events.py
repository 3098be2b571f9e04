"""Each tenant's event log and the webhooks it feeds: endpoints and the durable outbox.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mairust.events import Event, RecordType
from mairust.model.scope import Scope
from mairust.model.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint


class EventStore(Protocol):
    """Each tenant's event log (receptions, refusals, deliveries, failures). Rows are
    written by the spool's commit and the pipeline's settle; every read goes through a
    scope (a tenant's events only; a user's scope sees none)."""

    def append_events(self, batch: Sequence[Event]) -> None:
        """Insert ``batch`` in one transaction (unpublished)."""
        ...

    def list_events(
        self,
        scope: Scope,
        kinds: Sequence[RecordType] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Event]:
        """Newest first, of ``kinds`` (all if empty), ``since`` <= at < ``until``;
        ``before`` is an event id from a previous page (NotFound outside the scope)."""
        ...

    def trace_events(
        self,
        scope: Scope,
        message_id: str | None = None,
        header_message_id: str | None = None,
        recipient: str | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        """Everything recorded of one queue id, one Message-ID header (with every event of
        the queue ids it was seen under) or one recipient, oldest first; exactly one of
        them (InvalidInput otherwise)."""
        ...

    def unpublished_events(self, limit: int) -> list[Event]:
        """Events of every tenant not yet handed to the webhook outbox, oldest id first."""
        ...

    def mark_events_published(self, event_ids: Sequence[str]) -> None: ...


class WebhookEndpoints(Protocol):
    """A tenant's webhook endpoints: url, the id of the signing secret in the secret store,
    the event types wanted (empty: all), enabled or not."""

    def add_webhook_endpoint(
        self,
        tenant_id: str,
        url: str,
        secret_id: str,
        event_types: Sequence[str] = (),
        enabled: bool = True,
    ) -> WebhookEndpoint:
        """NotFound if the tenant does not exist."""
        ...

    def get_webhook_endpoint(self, scope: Scope, endpoint_id: str) -> WebhookEndpoint:
        """NotFound if absent or owned by another tenant."""
        ...

    def list_webhook_endpoints(self, scope: Scope) -> list[WebhookEndpoint]: ...

    def update_webhook_endpoint(
        self,
        scope: Scope,
        endpoint_id: str,
        url: str | None = None,
        secret_id: str | None = None,
        event_types: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """Change what is given (None: unchanged); NotFound outside the scope. Deliveries
        not sent yet go to the new url with the new secret."""
        ...

    def delete_webhook_endpoint(self, scope: Scope, endpoint_id: str) -> None:
        """Remove the endpoint and its deliveries; NotFound outside the scope."""
        ...


class WebhookOutbox(Protocol):
    """Deliveries of events to endpoints, durable and leased like the message queue: the
    store holds every retry timer, so a delivery loop that restarts loses nothing."""

    def enqueue_webhook_event(
        self, tenant_id: str, event_id: str, event_type: str, body: str
    ) -> list[WebhookDelivery]:
        """One PENDING delivery of ``body`` per enabled endpoint of the tenant that wants
        ``event_type``, in ONE transaction; an (endpoint, event) already enqueued is not
        enqueued again (its existing delivery is returned)."""
        ...

    def enqueue_webhook(
        self, tenant_id: str, endpoint_id: str, event_id: str, event_type: str, body: str
    ) -> WebhookDelivery:
        """One delivery to one endpoint of the tenant (NotFound otherwise), idempotent per
        (endpoint, event) like ``enqueue_webhook_event``."""
        ...

    def enqueue_plugin_webhook(
        self, plugin: str, url: str, secret_id: str, event_id: str, event_type: str, body: str
    ) -> WebhookDelivery:
        """One delivery of a ``webhook`` plugin's call to ``url``, signed with the platform
        secret ``secret_id``: the plugin's endpoint (no tenant; made, or brought up to date
        with ``url`` and ``secret_id``, in the same transaction), idempotent per (plugin,
        event) like ``enqueue_webhook_event``."""
        ...

    def list_plugin_webhook_deliveries(
        self, plugin: str, limit: int = 100
    ) -> list[WebhookDelivery]:
        """A webhook plugin's deliveries, newest first (no scope sees them otherwise)."""
        ...

    def lease_webhook_deliveries(
        self, owner: str, limit: int, lease_seconds: float
    ) -> list[WebhookDelivery]:
        """Claim up to ``limit`` due deliveries of enabled endpoints: PENDING with
        next_attempt_at <= now, or LEASED with an expired lease. Sets LEASED, the lease
        and attempts += 1."""
        ...

    def mark_webhook_delivered(self, delivery_id: str, owner: str, status: int) -> bool:
        """DELIVERED, if ``owner`` still holds the lease; False (nothing changed) if not."""
        ...

    def defer_webhook_delivery(
        self,
        delivery_id: str,
        owner: str,
        error: str,
        retry_at: datetime,
        status: int | None = None,
    ) -> bool:
        """Back to PENDING at ``retry_at`` with the error (and HTTP status, if any), if
        ``owner`` still holds the lease."""
        ...

    def fail_webhook_delivery(
        self, delivery_id: str, owner: str, error: str, status: int | None = None
    ) -> bool:
        """FAILED (given up, kept and listed), if ``owner`` still holds the lease."""
        ...

    def release_webhook_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        """As ``QueueStore.release_leases``, for webhook deliveries."""
        ...

    def redeliver_webhook(self, scope: Scope, delivery_id: str) -> WebhookDelivery:
        """A FAILED or DELIVERED delivery back to PENDING, due now, attempts reset;
        NotFound outside the scope."""
        ...

    def list_webhook_deliveries(
        self,
        scope: Scope,
        state: DeliveryState | None = None,
        endpoint_id: str | None = None,
        limit: int = 100,
    ) -> list[WebhookDelivery]:
        """Newest first."""
        ...
