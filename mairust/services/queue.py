"""The delivery queue as the operator sees it (platform admin only, read-only)."""

from __future__ import annotations

from mairust.model.principal import Permission, Principal, Role
from mairust.model.queue import QueueItem, QueueState
from mairust.services.access import require
from mairust.storage.protocols import QueueStore


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
