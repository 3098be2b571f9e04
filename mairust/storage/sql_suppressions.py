"""Suppression lists in the SQL metadata store: one row per (tenant, address)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from mairust.model.suppression import Suppression, SuppressionReason, suppression_key
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import suppressions

_S = suppressions.c
_CHUNK = 500  # addresses a query: far below every dialect's bound-parameter limit


class SqlSuppressions:
    """The suppression part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def add_suppressions(self, entries: Sequence[Suppression]) -> int:
        if not entries:
            return 0
        with self._db.write() as conn:
            return insert_suppressions(conn, entries)

    def remove_suppression(self, tenant_id: str, address: str) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                suppressions.delete().where(
                    _S.tenant_id == tenant_id, _S.address == suppression_key(address)
                )
            )
        return result.rowcount > 0

    def list_suppressions(
        self, tenant_id: str | None, limit: int = 100, after: str | None = None
    ) -> list[Suppression]:
        query = sa.select(suppressions)
        if tenant_id is not None:
            query = query.where(_S.tenant_id == tenant_id)
        if after is not None:
            query = query.where(_S.address > suppression_key(after))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(_S.address, _S.tenant_id).limit(limit)).all()
        return [_entry(row) for row in rows]

    def suppressed(self, tenant_id: str, addresses: Sequence[str]) -> dict[str, Suppression]:
        keys = {suppression_key(address): address for address in addresses}
        if not keys:
            return {}
        found: dict[str, Suppression] = {}
        wanted = list(keys)
        with self._db.read() as conn:
            for start in range(0, len(wanted), _CHUNK):
                rows = conn.execute(
                    sa.select(suppressions).where(
                        _S.tenant_id == tenant_id, _S.address.in_(wanted[start : start + _CHUNK])
                    )
                ).all()
                for row in rows:
                    found[keys[row.address]] = _entry(row)
        return found


def insert_suppressions(conn: Connection, entries: Sequence[Suppression]) -> int:
    """Insert ``entries`` on ``conn`` (the caller's transaction), keeping existing ones:
    the delivery loop's settle adds its hard bounces here too. Returns how many were new."""
    unique: dict[tuple[str, str], Suppression] = {}
    for entry in entries:
        unique.setdefault((entry.tenant_id, suppression_key(entry.address)), entry)
    tenants = {tenant for tenant, _ in unique}
    existing: set[tuple[str, str]] = set()
    for tenant in tenants:
        keys = [key for t, key in unique if t == tenant]
        for start in range(0, len(keys), _CHUNK):
            rows = conn.execute(
                sa.select(_S.address).where(
                    _S.tenant_id == tenant, _S.address.in_(keys[start : start + _CHUNK])
                )
            ).scalars()
            existing.update((tenant, address) for address in rows)
    fresh = [
        {
            "tenant_id": tenant,
            "address": address,
            "reason": entry.reason.value,
            "detail": entry.detail[:500],
            "created_at": entry.created_at,
        }
        for (tenant, address), entry in unique.items()
        if (tenant, address) not in existing
    ]
    if fresh:
        conn.execute(suppressions.insert(), fresh)
    return len(fresh)


def _entry(row: Row[Any]) -> Suppression:
    return Suppression(
        tenant_id=row.tenant_id,
        address=row.address,
        reason=SuppressionReason(row.reason),
        created_at=row.created_at,
        detail=row.detail,
    )
