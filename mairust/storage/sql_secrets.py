"""Sealed secrets in the SQL metadata store, every read and delete through a Scope.

The rows hold ciphertext only (sealed by :mod:`mairust.secrets`); a secret of another
tenant is indistinguishable from a missing one (invariant 5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

import sqlalchemy as sa

from mairust.errors import NotFound
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.model.secrets import SealedSecret, SecretPurpose, SecretRef
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import secrets, tenants


class SqlSecrets:
    """The secret part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def put_secret(self, secret: SealedSecret) -> None:
        ref = secret.ref
        with self._db.write() as conn:
            if ref.tenant_id is not None:  # None: the platform's own
                owner = sa.select(tenants.c.id).where(tenants.c.id == ref.tenant_id)
                if conn.execute(owner).first() is None:
                    raise NotFound(f"no such tenant: {ref.tenant_id}")
            conn.execute(
                secrets.insert().values(
                    id=ref.id,
                    tenant_id=ref.tenant_id,
                    purpose=ref.purpose.value,
                    key_id=secret.key_id,
                    ciphertext=secret.ciphertext,
                    created_at=ref.created_at,
                )
            )

    def get_secret(self, scope: Scope, secret_id: str) -> SealedSecret:
        query = _scoped(sa.select(secrets).where(secrets.c.id == secret_id), scope)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no such secret: {secret_id}")
        return _sealed(row)

    def delete_secret(self, scope: Scope, secret_id: str) -> None:
        delete = secrets.delete().where(secrets.c.id == secret_id, *_scope_conditions(scope))
        with self._db.write() as conn:
            if conn.execute(delete).rowcount != 1:
                raise NotFound(f"no such secret: {secret_id}")

    def list_secrets(self, scope: Scope, purpose: SecretPurpose | None = None) -> list[SecretRef]:
        columns = (secrets.c.id, secrets.c.tenant_id, secrets.c.purpose, secrets.c.created_at)
        query = _scoped(sa.select(*columns), scope).order_by(
            secrets.c.tenant_id, secrets.c.created_at, secrets.c.id
        )
        if purpose is not None:
            query = query.where(secrets.c.purpose == purpose.value)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [_ref(row) for row in rows]

    def sealed_secrets_page(self, after: str | None, limit: int) -> list[SealedSecret]:
        query = sa.select(secrets).order_by(secrets.c.id).limit(limit)
        if after is not None:
            query = query.where(secrets.c.id > after)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [_sealed(row) for row in rows]

    def replace_sealed_secret(self, old: SealedSecret, new_key_id: str, ciphertext: bytes) -> bool:
        # Compare-and-swap on the ciphertext: a concurrent rotation or delete wins, and a
        # deleted secret is never brought back.
        update = (
            secrets.update()
            .where(secrets.c.id == old.ref.id, secrets.c.ciphertext == old.ciphertext)
            .values(key_id=new_key_id, ciphertext=ciphertext)
        )
        with self._db.write() as conn:
            changed: int = conn.execute(update).rowcount
        return changed == 1

    def count_secrets_by_key(self) -> dict[str, int]:
        query = sa.select(secrets.c.key_id, sa.func.count()).group_by(secrets.c.key_id)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return {key_id: count for key_id, count in rows}


def _scope_conditions(scope: Scope) -> list[sa.ColumnElement[bool]]:
    match scope:
        case TenantScope(tenant_id=tenant_id, mailbox_id=None):
            return [secrets.c.tenant_id == tenant_id]
        case TenantScope():
            # Secrets belong to the tenant, not to a mailbox: a user's scope sees none.
            return [sa.false()]
        case PlatformScope():
            return []
        case _:
            assert_never(scope)


def _scoped(query: sa.Select[Any], scope: Scope) -> sa.Select[Any]:
    return query.where(*_scope_conditions(scope))


def _ref(row: sa.Row[Any]) -> SecretRef:
    created_at: datetime = row.created_at
    return SecretRef(row.id, row.tenant_id, SecretPurpose(row.purpose), created_at)


def _sealed(row: sa.Row[Any]) -> SealedSecret:
    return SealedSecret(ref=_ref(row), key_id=row.key_id, ciphertext=bytes(row.ciphertext))
