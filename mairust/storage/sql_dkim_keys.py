"""Sending domains' DKIM keys in the SQL metadata store (``dkim_keys``), part of
:class:`~mairust.storage.sql_metadata.SqlMetadataStore`.

"One active key per (domain, algorithm)" is a partial unique index, so two concurrent
keygens or rotations cannot both leave an active key: the second is a Conflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mairust.errors import Conflict
from mairust.model.address import normalize_domain
from mairust.model.dkim_keys import DkimAlgorithm, DkimKey, DkimKeyState
from mairust.model.scope import Scope
from mairust.storage.sql_aliases import require_domain_of, tenant_rows
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import dkim_keys


class SqlDkimKeys:
    _db: SqlDatabase

    def add_dkim_key(self, key: DkimKey) -> None:
        with self._db.write() as conn:
            require_domain_of(conn, key.domain, key.tenant_id)
            _insert(conn, key)

    def list_dkim_keys(self, scope: Scope, domain: str) -> list[DkimKey]:
        query = (
            dkim_keys.select()
            .where(dkim_keys.c.domain == normalize_domain(domain), *tenant_rows(scope, dkim_keys))
            .order_by(dkim_keys.c.created_at, dkim_keys.c.id)
        )
        with self._db.read() as conn:
            return [_key(row) for row in conn.execute(query)]

    def active_dkim_keys(self, domain: str) -> list[DkimKey]:
        query = (
            dkim_keys.select()
            .where(
                dkim_keys.c.domain == normalize_domain(domain),
                dkim_keys.c.state == DkimKeyState.ACTIVE.value,
            )
            .order_by(dkim_keys.c.algorithm, dkim_keys.c.id)
        )
        with self._db.read() as conn:
            return [_key(row) for row in conn.execute(query)]

    def rotate_dkim_key(self, old: DkimKey, new: DkimKey, retired_at: datetime) -> None:
        retire = (
            dkim_keys.update()
            .where(
                dkim_keys.c.id == old.id,
                dkim_keys.c.tenant_id == new.tenant_id,
                dkim_keys.c.state == DkimKeyState.ACTIVE.value,
            )
            .values(state=DkimKeyState.RETIRED.value, retired_at=retired_at)
        )
        with self._db.write() as conn:
            if conn.execute(retire).rowcount != 1:
                raise Conflict(f"DKIM key {old.selector} of {old.domain} is no longer active")
            _insert(conn, new)

    def purge_dkim_keys(self, scope: Scope, domain: str, retired_before: datetime) -> list[DkimKey]:
        where = (
            dkim_keys.c.domain == normalize_domain(domain),
            dkim_keys.c.state == DkimKeyState.RETIRED.value,
            dkim_keys.c.retired_at < retired_before,
            *tenant_rows(scope, dkim_keys),
        )
        with self._db.write() as conn:
            gone = [_key(row) for row in conn.execute(dkim_keys.select().where(*where))]
            if gone:
                conn.execute(dkim_keys.delete().where(dkim_keys.c.id.in_([k.id for k in gone])))
        return gone


def _insert(conn: sa.Connection, key: DkimKey) -> None:
    conn.execute(
        dkim_keys.insert().values(
            id=key.id,
            tenant_id=key.tenant_id,
            domain=key.domain,
            selector=key.selector,
            algorithm=key.algorithm.value,
            public_key=key.public_key,
            secret_id=key.secret_id,
            state=key.state.value,
            created_at=key.created_at,
            retired_at=key.retired_at,
        )
    )


def _key(row: sa.Row[Any]) -> DkimKey:
    return DkimKey(
        id=row.id,
        tenant_id=row.tenant_id,
        domain=row.domain,
        selector=row.selector,
        algorithm=DkimAlgorithm(row.algorithm),
        public_key=row.public_key,
        secret_id=row.secret_id,
        state=DkimKeyState(row.state),
        created_at=row.created_at,
        retired_at=row.retired_at,
    )
