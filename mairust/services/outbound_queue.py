"""The outbound queue as operators and tenant admins see it: recipients by state and
destination, each message's delivery attempts (its trace), and the operations on waiting
recipients — hold, release, retry now, bounce, delete.

A platform admin sees and acts on every row; a tenant admin only on its tenant's (the
tenant is put into the store's query, never taken from the caller, so another tenant's
message is a NotFound, invariant 5). A leased recipient (a delivery in flight) is never
touched; an operation that matches no waiting row is a NotFound. Every operation is
audited. An operator's bounce sends no DSN: it is the operator's decision, recorded as
an attempt (bounce class ``operator``) and a Bounce event, not a remote MTA's refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from mairust.errors import InvalidInput, NotFound
from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.outbound import (
    DeliveryAttempt,
    OutboundCounts,
    OutboundItem,
    OutboundSelection,
    QueueAction,
    RecipientState,
)
from mairust.model.principal import Permission, Principal, Role
from mairust.services.access import require
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.storage.protocols import OutboundQueue

OPERATOR_BOUNCE_REPLY = "550 5.0.0 Bounced by the operator"


class OutboundQueueService:
    def __init__(
        self,
        queue: OutboundQueue,
        audit: AuditTrail,
        clock: Clock = utc_now,
    ) -> None:
        self._queue = queue
        self._audit = audit
        self._clock = clock

    def rows(
        self,
        principal: Principal,
        state: RecipientState | Sequence[RecipientState] | None = None,
        destination: str | None = None,
        message_id: str | None = None,
        limit: int = 100,
    ) -> list[OutboundItem]:
        """Outbound recipients in the caller's reach (in ``state``, or any of several),
        newest first."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        return self._queue.list_outbound(state, destination, message_id, principal.tenant_id, limit)

    def counts(self, principal: Principal) -> OutboundCounts:
        """Rows per state (every state named), pending ones per destination; the whole
        platform's (an operator's figure, so platform admins only)."""
        require(principal, Permission.READ, Role.ADMIN)
        found = self._queue.outbound_counts()
        by_state = {state: found.by_state.get(state, 0) for state in RecipientState}
        return replace(found, by_state=by_state)

    def attempts(self, principal: Principal, message_id: str) -> list[DeliveryAttempt]:
        """Every delivery attempt at the message's remote recipients, oldest first."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        if not self._queue.list_outbound(
            message_id=message_id, tenant_id=principal.tenant_id, limit=1
        ):
            raise NotFound(f"no outbound message {message_id!r}")
        return self._queue.outbound_attempts(message_id)

    def act(
        self, principal: Principal, action: QueueAction, selection: OutboundSelection
    ) -> list[OutboundItem]:
        """Apply ``action`` to the waiting rows ``selection`` names, in the caller's
        tenant; the rows changed (as they were)."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        if selection.empty:
            raise InvalidInput("name the recipients: ids, a message_id or a destination")
        scoped = replace(selection, tenant_id=principal.tenant_id)
        now = self._clock()
        reply = OPERATOR_BOUNCE_REPLY if action is QueueAction.BOUNCE else ""
        changed = self._queue.change_outbound(
            action, scoped, now, reply, _operator_event(action, now)
        )
        if not changed:
            raise NotFound("no waiting outbound recipient matches (in flight or done ones stay)")
        self._audit.record(
            principal,
            f"outbound.{action.value}",
            selection.message_id or selection.destination or ",".join(map(str, selection.ids)),
            principal.tenant_id,
            {"rows": len(changed)},
        )
        return changed


def _operator_event(
    action: QueueAction, now: datetime
) -> Callable[[OutboundItem], Event | None] | None:
    """The event an operator's action ends a recipient with, so its trace does not stop at
    "scheduled": a bounce is a Bounce (with the DSN's reply), a delete a Discard (no DSN
    goes anywhere); hold, release and retry end nothing."""
    if action is QueueAction.BOUNCE:
        kind, reply = RecordType.BOUNCE, OPERATOR_BOUNCE_REPLY
    elif action is QueueAction.DELETE:
        kind, reply = RecordType.DISCARD, None
    else:
        return None

    def event_for(item: OutboundItem) -> Event | None:
        if item.tenant_id is None:
            return None
        return Event(
            id=new_id(),
            tenant_id=item.tenant_id,
            kind=kind,
            at=now,
            message_id=item.message.id,
            recipient=item.recipient,
            reply=reply,
            detail={
                "outbound": True,
                "by": "operator",
                "action": action.value,
                "destination": item.destination,
            },
        )

    return event_for
