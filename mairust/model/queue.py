"""Queue rows: one per (message, recipient), leased from the metadata store (invariant 2)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from mairust.model.annotations import Annotations
from mairust.model.message import MessageRef


class QueueState(enum.StrEnum):
    QUEUED = "queued"  # waiting for next_attempt_at
    LEASED = "leased"  # a worker holds it until lease_until
    DONE = "done"  # delivered (mailbox entry exists)
    FAILED = "failed"  # permanent failure; last_error says why


@dataclass(frozen=True, slots=True)
class QueueItem:
    id: int
    message: MessageRef
    recipient: str
    state: QueueState
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    annotations: Annotations = field(default_factory=Annotations)
