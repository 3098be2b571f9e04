"""API tokens in the SQL metadata store: digests only, reached through the scope.

A token is found by its HMAC digest (the service computes it); listing and revoking go
through the caller's scope, so another tenant's token id is a NotFound (invariant 5).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, assert_never

import sqlalchemy as sa

from mairust.errors import NotFound
from mairust.model.access import ApiToken
from mairust.model.principal import Permission, Role
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import api_tokens


class SqlTokens:
    """The token part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def add_token(self, token: ApiToken, digest: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                api_tokens.insert().values(
                    id=token.id,
                    digest=digest,
                    name=token.name,
                    role=token.role.value,
                    tenant_id=token.tenant_id,
                    mailbox_id=token.mailbox_id,
                    permissions=tuple(sorted(p.value for p in token.permissions)),
                    created_by=token.created_by,
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                )
            )

    def find_token(self, digest: str) -> ApiToken | None:
        with self._db.read() as conn:
            row = conn.execute(api_tokens.select().where(api_tokens.c.digest == digest)).first()
        return None if row is None else _token(row)

    def list_tokens(
        self, scope: Scope, limit: int = 100, after: str | None = None
    ) -> list[ApiToken]:
        query = api_tokens.select().where(*_token_scope(scope)).order_by(api_tokens.c.id)
        if after is not None:
            query = query.where(api_tokens.c.id > after)
        with self._db.read() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_token(row) for row in rows]

    def get_token(self, scope: Scope, token_id: str) -> ApiToken:
        query = api_tokens.select().where(api_tokens.c.id == token_id, *_token_scope(scope))
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no token {token_id!r}")
        return _token(row)

    def revoke_token(self, scope: Scope, token_id: str, at: datetime) -> ApiToken:
        update = (
            api_tokens.update()
            .where(api_tokens.c.id == token_id, *_token_scope(scope))
            .where(api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at.astimezone(UTC))
        )
        with self._db.write() as conn:
            conn.execute(update)
            row = conn.execute(
                api_tokens.select().where(api_tokens.c.id == token_id, *_token_scope(scope))
            ).first()
        if row is None:
            raise NotFound(f"no token {token_id!r}")
        return _token(row)

    def touch_token(self, token_id: str, at: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id)
                .values(last_used_at=at.astimezone(UTC))
            )


def _token_scope(scope: Scope) -> list[sa.ColumnElement[bool]]:
    """Tokens a scope may see: a tenant's (a user's: only the user's own)."""
    match scope:
        case TenantScope(tenant_id=tenant_id, mailbox_id=None):
            return [api_tokens.c.tenant_id == tenant_id]
        case TenantScope(tenant_id=tenant_id, mailbox_id=mailbox_id):
            return [api_tokens.c.tenant_id == tenant_id, api_tokens.c.mailbox_id == mailbox_id]
        case PlatformScope():
            return []
        case _:
            assert_never(scope)


def _token(row: sa.Row[Any]) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        tenant_id=row.tenant_id,
        mailbox_id=row.mailbox_id,
        permissions=frozenset(Permission(p) for p in row.permissions),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
