"""The audit trail: who did what to what, when and from where.

Services call :meth:`AuditTrail.record` after an admin or tenant-admin action succeeds;
reading is for those who hold the ``admin`` permission, through their scope.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mairust.errors import InvalidInput, NotFound
from mairust.model.access import AuditRecord
from mairust.model.ids import new_id
from mairust.model.principal import Permission, Principal, Role
from mairust.services.access import require
from mairust.storage.protocols import AuditStore

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    def __init__(self, store: AuditStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def record(
        self,
        principal: Principal,
        action: str,
        target: str,
        tenant_id: str | None,
        details: dict[str, Any] | None = None,
    ) -> AuditRecord:
        record = AuditRecord(
            id=new_id(),
            at=self._clock(),
            tenant_id=tenant_id,
            actor=principal.actor,
            role=principal.role,
            action=action,
            target=target,
            source=principal.source,
            details=details,
        )
        self._store.append_audit(record)
        return record

    def page(
        self, principal: Principal, limit: int = 50, before: str | None = None
    ) -> list[AuditRecord]:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        try:
            return self._store.list_audit(principal.scope, limit=limit, before=before)
        except NotFound as exc:
            # One answer for every list: an unknown cursor is bad input, not a missing page.
            raise InvalidInput("'before' is not a cursor from a previous page") from exc
