"""Request and response bodies of the outbound queue routes (``/api/v1/outbound``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mairust.model.outbound import DeliveryAttempt, OutboundItem, OutboundSelection, RecipientState

MAX_SELECTED_IDS = 1000
# A row id as the store keeps it (BIGINT): anything else is a 422, never a database error.
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class OutboundRow(BaseModel):
    id: int
    message_id: str
    mail_from: str
    recipient: str
    destination: str
    state: RecipientState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_reply: str | None
    bounce_class: str | None
    # When its "delayed" DSN went to the sender (null: none yet; never a second).
    delay_notified_at: datetime | None = None

    @classmethod
    def from_item(cls, item: OutboundItem) -> OutboundRow:
        return cls(
            id=item.id,
            message_id=item.message.id,
            mail_from=item.mail_from,
            recipient=item.recipient,
            destination=item.destination,
            state=item.state,
            attempts=item.attempts,
            next_attempt_at=item.next_attempt_at,
            created_at=item.created_at,
            last_reply=item.last_reply,
            bounce_class=item.bounce_class,
            delay_notified_at=item.delay_notified_at,
        )


class OutboundList(BaseModel):
    items: list[OutboundRow]


class OutboundStats(BaseModel):
    counts: dict[RecipientState, int] = Field(description="Rows per state; every state listed.")
    pending_by_destination: dict[str, int] = Field(
        description="Recipients waiting or in flight, per destination (domain or relay host)."
    )


class AttemptRow(BaseModel):
    recipient: str
    at: datetime
    result: str
    reply: str
    host: str | None
    address: str | None
    bounce_class: str | None

    @classmethod
    def from_attempt(cls, attempt: DeliveryAttempt) -> AttemptRow:
        return cls(
            recipient=attempt.recipient,
            at=attempt.at,
            result=attempt.result,
            reply=attempt.reply,
            host=attempt.host,
            address=attempt.address,
            bounce_class=attempt.bounce_class,
        )


class AttemptList(BaseModel):
    message_id: str
    items: list[AttemptRow]


class OutboundSelectionBody(BaseModel):
    """Which waiting recipients to act on: every field given must match, and at least one
    is needed."""

    model_config = ConfigDict(extra="forbid")

    ids: list[RowId] = Field(default_factory=list, max_length=MAX_SELECTED_IDS)
    message_id: str | None = Field(None, min_length=1, max_length=64)
    destination: str | None = Field(None, min_length=1, max_length=300)

    def to_selection(self) -> OutboundSelection:
        return OutboundSelection(tuple(self.ids), self.message_id, self.destination)


class OutboundActionResult(BaseModel):
    changed: list[OutboundRow]
