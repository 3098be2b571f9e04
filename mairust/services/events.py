"""The event log and the message trace of a tenant.

Events are written where they happen (the spool's commit, the pipeline's settle); this
service only reads them, through the caller's scope: a tenant admin sees their tenant's
events, the platform admin every tenant's, a user none (events are the tenant's, not a
mailbox's). A trace is everything recorded of one message, found by our queue id, by its
``Message-ID:`` header or by a recipient, refusals before the 250 included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mairust.errors import InvalidInput, NotFound
from mairust.events import Event, RecordType
from mairust.model.address import normalize_address
from mairust.model.principal import Permission, Principal, Role
from mairust.model.threads import normalised_msg_id
from mairust.services.access import require
from mairust.storage.protocols import EventStore


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """Exactly one of: our queue id, a Message-ID header (``<left@right>``), a recipient."""

    message_id: str | None = None
    header_message_id: str | None = None
    recipient: str | None = None


class EventService:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    def page(
        self,
        principal: Principal,
        kinds: Sequence[RecordType] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Event]:
        """Newest first; ``before`` is the last event id of the previous page."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        if since is not None and until is not None and since >= until:
            raise InvalidInput("'since' must be before 'until'")
        try:
            return self._store.list_events(
                principal.scope, kinds=kinds, since=since, until=until, limit=limit, before=before
            )
        except NotFound as exc:
            # One answer for every list: an unknown cursor is bad input, not a missing page.
            raise InvalidInput("'before' is not a cursor from a previous page") from exc

    def trace(self, principal: Principal, query: TraceQuery) -> list[Event]:
        """Everything recorded of the message (or recipient), oldest first."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        given = [v for v in (query.message_id, query.header_message_id, query.recipient) if v]
        if len(given) != 1:
            raise InvalidInput("trace by exactly one of: queue_id, message_id, recipient")
        header_id = None
        if query.header_message_id:
            header_id = normalised_msg_id(query.header_message_id)
            if header_id is None:
                raise InvalidInput("message_id is a Message-ID such as <id@host.example>")
        recipient = normalize_address(query.recipient) if query.recipient else None
        return self._store.trace_events(
            principal.scope,
            message_id=query.message_id,
            header_message_id=header_id,
            recipient=recipient,
        )
