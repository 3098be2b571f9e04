"""The delivery queue as the operator sees it (platform admin only, read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mairust.model.principal import Permission, Principal, Role
from mairust.model.queue import QueueItem, QueueState
from mairust.services.access import require
from mairust.storage.protocols import QueueStore

# Leased rows are the batches in flight (batch size x workers x batches in flight), a few
# hundred at most; a queue holding more leases than this is reported from this many.
LEASE_SAMPLE = 10_000


@dataclass(frozen=True, slots=True)
class LeaseAges:
    """The leases held now: how many, how many expired, and the oldest one's age."""

    leased: int
    expired: int
    oldest_seconds: float | None  # None when nothing is leased


class QueueService:
    def __init__(self, queue: QueueStore) -> None:
        self._queue = queue

    def rows(
        self, principal: Principal, state: QueueState | None = None, limit: int = 100
    ) -> list[QueueItem]:
        require(principal, Permission.READ, Role.ADMIN)
        return self._queue.list_queue(state, limit)

    def counts(self, principal: Principal) -> dict[QueueState, int]:
        """Rows per state; states without rows count 0."""
        require(principal, Permission.READ, Role.ADMIN)
        found = self._queue.queue_counts()
        return {state: found.get(state, 0) for state in QueueState}

    def lease_ages(self, principal: Principal, lease_seconds: float, now: datetime) -> LeaseAges:
        """Ages of the leases held at ``now``. A row keeps only when its lease ends, so a
        lease's age is read as ``now - (lease_until - lease_seconds)``, with
        ``lease_seconds`` the length the platform leases for (``[queue] lease_seconds``)."""
        require(principal, Permission.READ, Role.ADMIN)
        ends = [
            item.lease_until
            for item in self._queue.list_queue(QueueState.LEASED, LEASE_SAMPLE)
            if item.lease_until is not None
        ]
        if not ends:
            return LeaseAges(leased=0, expired=0, oldest_seconds=None)
        began = min(ends) - timedelta(seconds=lease_seconds)
        return LeaseAges(
            leased=len(ends),
            expired=sum(1 for end in ends if end <= now),
            oldest_seconds=max(0.0, (now - began).total_seconds()),
        )
