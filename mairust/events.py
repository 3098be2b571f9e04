"""The closed vocabulary of delivery records, declared once, and the event row they make.

Every lifecycle event of a message is one of these record types (KumoMTA's
``RecordType``). They are logged on the ``mairust.events`` logger as structured
records, so log shippers see one shape; the ones that belong to a tenant are also kept
as :class:`Event` rows (the event log and message trace of the API, and the source of
outgoing webhooks), written in the transaction that made them true: the spool's group
commit for receptions and refusals, the pipeline's settle for deliveries and failures.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_log = logging.getLogger("mairust.events")


class RecordType(enum.StrEnum):
    RECEPTION = "Reception"
    REJECTION = "Rejection"
    DELIVERY = "Delivery"
    TRANSIENT_FAILURE = "TransientFailure"
    BOUNCE = "Bounce"
    EXPIRATION = "Expiration"
    # A pre_delivery hook's discard, or an operator's delete of an outbound recipient: the
    # row ends without an entry or a delivery, never silently.
    DISCARD = "Discard"
    # A held (quarantined) entry released to its folder: plugins may learn from it.
    QUARANTINE_RELEASED = "QuarantineReleased"


class WebhookType(enum.StrEnum):
    """The ``type`` a webhook receiver sees for each record (Standard Webhooks' dotted
    names); an endpoint subscribes to some of these."""

    RECEIVED = "message.received"
    REJECTED = "message.rejected"
    DELIVERED = "message.delivered"
    DEFERRED = "message.deferred"
    BOUNCED = "message.bounced"
    EXPIRED = "message.expired"
    DISCARDED = "message.discarded"
    QUARANTINE_RELEASED = "quarantine.released"


WEBHOOK_TYPES: Mapping[RecordType, WebhookType] = {
    RecordType.RECEPTION: WebhookType.RECEIVED,
    RecordType.REJECTION: WebhookType.REJECTED,
    RecordType.DELIVERY: WebhookType.DELIVERED,
    RecordType.TRANSIENT_FAILURE: WebhookType.DEFERRED,
    RecordType.BOUNCE: WebhookType.BOUNCED,
    RecordType.EXPIRATION: WebhookType.EXPIRED,
    RecordType.DISCARD: WebhookType.DISCARDED,
    RecordType.QUARANTINE_RELEASED: WebhookType.QUARANTINE_RELEASED,
}
WEBHOOK_EVENT_TYPES: frozenset[str] = frozenset(WebhookType)


@dataclass(frozen=True, slots=True)
class Event:
    """One record kept for a tenant.

    ``message_id`` is our queue id (the one in ``250 queued as <id>``; None for a refusal
    before 250), ``header_message_id`` the message's normalised ``Message-ID:`` when it is
    known, ``reply`` the SMTP reply of a refusal, ``detail`` anything else (stage, client,
    reason, entry id), small and JSON-able.
    """

    id: str
    tenant_id: str
    kind: RecordType
    at: datetime
    message_id: str | None = None
    header_message_id: str | None = None
    recipient: str | None = None
    reply: str | None = None
    detail: Mapping[str, Any] | None = None

    @property
    def webhook_type(self) -> str:
        return WEBHOOK_TYPES[self.kind].value

    def webhook_data(self) -> dict[str, Any]:
        """The ``data`` of this event's webhook payload."""
        data: dict[str, Any] = {"event_id": self.id, "record": self.kind.value}
        for name in ("message_id", "header_message_id", "recipient", "reply"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.detail:
            data["detail"] = dict(self.detail)
        return data


def record(kind: RecordType, **fields: Any) -> None:
    """Log one delivery record with its fields as structured ``extra`` data."""
    text = " ".join(f"{key}={value}" for key, value in fields.items())
    _log.info("%s %s", kind.value, text, extra={"record_type": kind.value, "fields": fields})
