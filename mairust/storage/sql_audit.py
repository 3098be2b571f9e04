"""The audit log in the SQL metadata store: append-only, read through the scope.

A tenant scope reads its own tenant's records; the platform reads all. Pages go newest
first with the record id as the cursor, like every other listing.
"""

from __future__ import annotations

from typing import Any, assert_never

import sqlalchemy as sa

from mairust.errors import NotFound
from mairust.model.access import AuditRecord
from mairust.model.principal import Role
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import audit_log


class SqlAudit:
    """The audit part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def append_audit(self, record: AuditRecord) -> None:
        with self._db.write() as conn:
            conn.execute(
                audit_log.insert().values(
                    id=record.id,
                    at=record.at,
                    tenant_id=record.tenant_id,
                    actor=record.actor,
                    role=record.role.value,
                    action=record.action,
                    target=record.target,
                    source=record.source,
                    details=record.details,
                )
            )

    def list_audit(
        self, scope: Scope, limit: int = 50, before: str | None = None
    ) -> list[AuditRecord]:
        """Newest first; ``before`` is a record id from a previous page (exclusive)."""
        query = audit_log.select().where(*_audit_scope(scope))
        with self._db.read() as conn:
            if before is not None:
                cursor = conn.execute(
                    sa.select(audit_log.c.at, audit_log.c.id).where(
                        audit_log.c.id == before, *_audit_scope(scope)
                    )
                ).first()
                if cursor is None:
                    raise NotFound(f"no audit record {before!r}")
                query = query.where(
                    sa.or_(
                        audit_log.c.at < cursor.at,
                        sa.and_(audit_log.c.at == cursor.at, audit_log.c.id < cursor.id),
                    )
                )
            rows = conn.execute(
                query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
            ).all()
        return [_record(row) for row in rows]


def _audit_scope(scope: Scope) -> list[sa.ColumnElement[bool]]:
    match scope:
        case TenantScope(tenant_id=tenant_id):
            return [audit_log.c.tenant_id == tenant_id]
        case PlatformScope():
            return []
        case _:
            assert_never(scope)


def _record(row: sa.Row[Any]) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=row.at,
        tenant_id=row.tenant_id,
        actor=row.actor,
        role=Role(row.role),
        action=row.action,
        target=row.target,
        source=row.source,
        details=row.details,
    )
