"""The outbound queue: remote recipients leased by the delivery loop, settled with their
attempts, and the DSNs that bounces make, in one transaction.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
Rows are created by the spool's commit (``QueueStore.commit_messages``, a record's
``remote`` recipients). Every time is passed in (``now``), so a test drives the retry
schedule and expiry with its own clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from mairust.events import Event
from mairust.model.message import SpoolRecord
from mairust.model.outbound import (
    AttemptOutcome,
    DeliveryAttempt,
    OutboundCounts,
    OutboundItem,
    OutboundSelection,
    QueueAction,
    RecipientState,
)
from mairust.model.suppression import Suppression


class OutboundQueue(Protocol):
    def lease_outbound(
        self, owner: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[OutboundItem]:
        """Claim up to ``limit`` due rows (SCHEDULED or DEFERRED with next_attempt_at <=
        ``now``, or LEASED with an expired lease), oldest due first: LEASED, owner,
        lease_until = now + lease_seconds, attempts += 1. Rows are returned grouped by
        destination, then by message, so the caller's sessions see neighbours together."""
        ...

    def settle_outbound(
        self,
        owner: str,
        now: datetime,
        delivered: Sequence[AttemptOutcome] = (),
        deferred: Sequence[AttemptOutcome] = (),
        bounced: Sequence[AttemptOutcome] = (),
        dsns: Sequence[tuple[str, SpoolRecord]] = (),
        events: Sequence[Event] = (),
        suppress: Sequence[Suppression] = (),
    ) -> int:
        """A round's outcomes in ONE transaction: DELIVERED, DEFERRED (next_attempt_at =
        the outcome's retry_at; delay_notified_at = ``now`` when the outcome says its
        "delayed" DSN is among ``dsns``), BOUNCED (bounce class kept); one attempt row each; the
        ``dsns`` ((original message id, DSN record) pairs) committed as new messages exactly
        as the spool commits (their blobs are durable already); the ``events``. Only rows
        still leased by ``owner`` change; an outcome for a row it no longer holds is dropped
        with its attempt, and a DSN or event is kept only if some row of its original
        message changed; ``suppress`` (hard bounces) joins the tenants' suppression lists,
        for rows that changed. Returns rows changed."""
        ...

    def postpone_outbound(self, owner: str, item_ids: Sequence[int], until: datetime) -> int:
        """Hand back rows the owner leased but did not try (traffic shaping held them):
        their pending state again, due at ``until``, the lease's attempt not counted, no
        attempt row. Only rows still leased by ``owner`` change; returns how many."""
        ...

    def release_outbound_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        """As ``QueueStore.release_leases``, for outbound rows: LEASED rows of owners
        starting with ``owner_prefix`` (but not ``keep_owner``) back to their pending state
        (DEFERRED if settled before, else SCHEDULED), due now; the lease's attempt stays
        counted."""
        ...

    def list_outbound(
        self,
        state: RecipientState | Sequence[RecipientState] | None = None,
        destination: str | None = None,
        message_id: str | None = None,
        tenant_id: str | None = None,
        limit: int = 100,
    ) -> list[OutboundItem]:
        """Rows filtered by each argument given (``state``: one, or any of several; an
        empty sequence filters nothing), newest first."""
        ...

    def outbound_counts(self) -> OutboundCounts: ...

    def due_outbound_rows(self, now: datetime) -> int:
        """Rows ``lease_outbound`` would take at ``now`` (due, or leased with an expired
        lease): the pool scaler's measure of outbound work waiting."""
        ...

    def outbound_attempts(self, message_id: str) -> list[DeliveryAttempt]:
        """Every attempt at the message's recipients, oldest first (the message trace)."""
        ...

    def next_outbound_due(self) -> datetime | None:
        """When the earliest pending row falls due (the loop sleeps until then at most)."""
        ...

    def change_outbound(
        self,
        action: QueueAction,
        selection: OutboundSelection,
        now: datetime,
        reply: str = "",
        event_for: Callable[[OutboundItem], Event | None] | None = None,
    ) -> list[OutboundItem]:
        """Apply an operator's ``action`` to the waiting rows ``selection`` names (see
        QueueAction; leased and final rows are never touched) in one transaction, and
        return the rows changed as they were before. BOUNCE records an attempt with
        ``reply``; ``event_for`` a changed row's event, kept in the same transaction.
        An empty selection is a ValueError."""
        ...

    def record_remote_bounces(
        self,
        bounced: Sequence[DeliveryAttempt],
        now: datetime,
        suppress: Sequence[Suppression] = (),
    ) -> int:
        """Failures reported after a 250 (a DSN from further on), in ONE transaction: each
        attempt's row, if still DELIVERED, becomes BOUNCED with the attempt's reply and
        bounce class, and the attempt is recorded; ``suppress`` entries join their
        tenants' lists for recipients whose row changed here. A row in any other state is
        left alone with its attempt, so a report read twice changes nothing the second
        time. Returns rows changed."""
        ...
