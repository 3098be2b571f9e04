"""Webhook endpoints and the durable webhook outbox in the SQL metadata store.

The outbox works like the message queue (``sql_queue``): due rows are leased inside one
write transaction (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), a lease that expires puts the row back in play, and only the lease's owner
can settle a row. Retry times live in the rows, so nothing is lost when a delivery loop
stops. Every tenant-owned read goes through a :class:`~mairust.model.scope.Scope` in the
query itself (invariant 5): another tenant's id is NotFound.

A ``webhook`` plugin's deliveries share the outbox (and its delivery loop): its endpoint
is a row with no tenant and the plugin's name, kept in step with the plugin's manifest
and secret by :meth:`SqlWebhookOutbox.enqueue_plugin_webhook`. No scope sees those rows,
not even the platform's: they are the plugin's, managed with the plugin, not over the
webhook API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, assert_never

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mairust.errors import InvalidInput, NotFound
from mairust.model.ids import new_id
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.model.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import UPSERT_INSERTS
from mairust.storage.sql_leases import due_ids, lease_update, release_leases_update
from mairust.storage.sql_schema import tenants, webhook_deliveries, webhook_endpoints

_E = webhook_endpoints.c
_D = webhook_deliveries.c


def _scoped(table: sa.Table, scope: Scope) -> sa.ColumnElement[bool]:
    """The rows of ``table`` (which has a tenant_id) that ``scope`` may see.

    Webhooks belong to the tenant, not to a mailbox: a user's scope (one mailbox) sees
    none of them.
    """
    match scope:
        case PlatformScope():
            return table.c.tenant_id.is_not(None)
        case TenantScope(tenant_id=tenant_id, mailbox_id=None):
            return table.c.tenant_id == tenant_id
        case TenantScope():
            return sa.false()
        case _:
            assert_never(scope)


def _endpoint(row: sa.Row[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        tenant_id=row.tenant_id,
        url=row.url,
        secret_id=row.secret_id,
        event_types=row.event_types,
        enabled=row.enabled,
        created_at=row.created_at,
    )


class SqlWebhookEndpoints:
    """The webhook-endpoint part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def add_webhook_endpoint(
        self,
        tenant_id: str,
        url: str,
        secret_id: str,
        event_types: Sequence[str] = (),
        enabled: bool = True,
    ) -> WebhookEndpoint:
        if not url or not secret_id:
            raise InvalidInput("a webhook endpoint needs a url and a secret")
        now = datetime.now(UTC)
        endpoint = WebhookEndpoint(
            new_id(), tenant_id, url, secret_id, tuple(dict.fromkeys(event_types)), enabled, now
        )
        with self._db.write() as conn:
            if (
                conn.execute(sa.select(tenants.c.id).where(tenants.c.id == tenant_id)).first()
                is None
            ):
                raise NotFound(f"no such tenant: {tenant_id}")
            conn.execute(
                webhook_endpoints.insert().values(
                    id=endpoint.id,
                    tenant_id=tenant_id,
                    url=url,
                    secret_id=secret_id,
                    event_types=endpoint.event_types,
                    enabled=enabled,
                    created_at=now,
                    updated_at=now,
                )
            )
        return endpoint

    def get_webhook_endpoint(self, scope: Scope, endpoint_id: str) -> WebhookEndpoint:
        with self._db.read() as conn:
            return _endpoint(_owned_endpoint(conn, scope, endpoint_id))

    def list_webhook_endpoints(self, scope: Scope) -> list[WebhookEndpoint]:
        query = webhook_endpoints.select().where(_scoped(webhook_endpoints, scope))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(_E.created_at, _E.id)).all()
        return [_endpoint(row) for row in rows]

    def update_webhook_endpoint(
        self,
        scope: Scope,
        endpoint_id: str,
        url: str | None = None,
        secret_id: str | None = None,
        event_types: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        changes: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if url is not None:
            changes["url"] = url
        if secret_id is not None:
            changes["secret_id"] = secret_id
        if event_types is not None:
            changes["event_types"] = tuple(dict.fromkeys(event_types))
        if enabled is not None:
            changes["enabled"] = enabled
        with self._db.write() as conn:
            _owned_endpoint(conn, scope, endpoint_id)
            conn.execute(webhook_endpoints.update().where(_E.id == endpoint_id).values(**changes))
            return _endpoint(_owned_endpoint(conn, scope, endpoint_id))

    def delete_webhook_endpoint(self, scope: Scope, endpoint_id: str) -> None:
        with self._db.write() as conn:
            _owned_endpoint(conn, scope, endpoint_id)
            conn.execute(webhook_deliveries.delete().where(_D.endpoint_id == endpoint_id))
            conn.execute(webhook_endpoints.delete().where(_E.id == endpoint_id))


def _owned_endpoint(conn: Connection, scope: Scope, endpoint_id: str) -> sa.Row[Any]:
    row = conn.execute(
        webhook_endpoints.select().where(_E.id == endpoint_id, _scoped(webhook_endpoints, scope))
    ).first()
    if row is None:
        raise NotFound(f"no such webhook endpoint: {endpoint_id}")
    return row


class SqlWebhookOutbox:
    """The webhook-outbox part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def enqueue_webhook_event(
        self, tenant_id: str, event_id: str, event_type: str, body: str
    ) -> list[WebhookDelivery]:
        with self._db.write() as conn:
            rows = conn.execute(
                webhook_endpoints.select()
                .where(_E.tenant_id == tenant_id, _E.enabled.is_(True))
                .order_by(_E.created_at, _E.id)
            ).all()
            wanted = [_endpoint(row) for row in rows if _endpoint(row).wants(event_type)]
            return [
                self._enqueue(conn, endpoint.id, endpoint.tenant_id, event_id, event_type, body)
                for endpoint in wanted
            ]

    def enqueue_webhook(
        self, tenant_id: str, endpoint_id: str, event_id: str, event_type: str, body: str
    ) -> WebhookDelivery:
        with self._db.write() as conn:
            row = _owned_endpoint(conn, TenantScope(tenant_id), endpoint_id)
            return self._enqueue(conn, row.id, row.tenant_id, event_id, event_type, body)

    def enqueue_plugin_webhook(
        self, plugin: str, url: str, secret_id: str, event_id: str, event_type: str, body: str
    ) -> WebhookDelivery:
        if not url or not secret_id:
            raise InvalidInput("a webhook plugin needs a url and a secret")
        now = datetime.now(UTC)
        with self._db.write() as conn:
            found = conn.execute(
                sa.select(_E.id, _E.url, _E.secret_id, _E.enabled).where(_E.plugin == plugin)
            ).first()
            if found is None:
                endpoint_id = new_id()
                conn.execute(
                    webhook_endpoints.insert().values(
                        id=endpoint_id,
                        tenant_id=None,
                        plugin=plugin,
                        url=url,
                        secret_id=secret_id,
                        event_types=(),
                        enabled=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                endpoint_id = found.id
                if (found.url, found.secret_id, found.enabled) != (url, secret_id, True):
                    # The plugin was upgraded or its secret set anew: what is still waiting
                    # goes to the new address, signed with the new secret.
                    conn.execute(
                        webhook_endpoints.update()
                        .where(_E.id == endpoint_id)
                        .values(url=url, secret_id=secret_id, enabled=True, updated_at=now)
                    )
            return self._enqueue(conn, endpoint_id, None, event_id, event_type, body)

    def list_plugin_webhook_deliveries(
        self, plugin: str, limit: int = 100
    ) -> list[WebhookDelivery]:
        query = (
            _deliveries()
            .where(_E.plugin == plugin)
            .order_by(_D.created_at.desc(), _D.id.desc())
            .limit(limit)
        )
        with self._db.read() as conn:
            return [_delivery(row) for row in conn.execute(query).all()]

    def _enqueue(
        self,
        conn: Connection,
        endpoint_id: str,
        tenant_id: str | None,
        event_id: str,
        event_type: str,
        body: str,
    ) -> WebhookDelivery:
        now = datetime.now(UTC)
        insert = UPSERT_INSERTS[self._db.dialect](webhook_deliveries).values(
            id=new_id(),
            tenant_id=tenant_id,
            endpoint_id=endpoint_id,
            event_id=event_id,
            event_type=event_type,
            body=body,
            state=DeliveryState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        conn.execute(insert.on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"]))
        row = conn.execute(
            _deliveries().where(_D.endpoint_id == endpoint_id, _D.event_id == event_id)
        ).one()
        return _delivery(row)

    def lease_webhook_deliveries(
        self, owner: str, limit: int, lease_seconds: float
    ) -> list[WebhookDelivery]:
        if limit <= 0:
            return []
        now = datetime.now(UTC)
        with self._db.write() as conn:
            ids = _due_ids(conn, now, limit)
            if not ids:
                return []
            leased = lease_update(
                webhook_deliveries,
                ids,
                leased=DeliveryState.LEASED.value,
                owner=owner,
                until=now + timedelta(seconds=lease_seconds),
                now=now,
            )
            conn.execute(leased)
            rows = conn.execute(_deliveries().where(_D.id.in_(ids))).all()
        order = {delivery_id: index for index, delivery_id in enumerate(ids)}
        return sorted((_delivery(row) for row in rows), key=lambda d: order[d.id])

    def mark_webhook_delivered(self, delivery_id: str, owner: str, status: int) -> bool:
        now = datetime.now(UTC)
        return self._settle(
            delivery_id,
            owner,
            state=DeliveryState.DELIVERED.value,
            last_status=status,
            last_error=None,
            delivered_at=now,
        )

    def defer_webhook_delivery(
        self,
        delivery_id: str,
        owner: str,
        error: str,
        retry_at: datetime,
        status: int | None = None,
    ) -> bool:
        return self._settle(
            delivery_id,
            owner,
            state=DeliveryState.PENDING.value,
            next_attempt_at=retry_at,
            last_error=error,
            last_status=status,
        )

    def fail_webhook_delivery(
        self, delivery_id: str, owner: str, error: str, status: int | None = None
    ) -> bool:
        return self._settle(
            delivery_id,
            owner,
            state=DeliveryState.FAILED.value,
            last_error=error,
            last_status=status,
        )

    def _settle(self, delivery_id: str, owner: str, **values: Any) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                webhook_deliveries.update()
                .where(
                    _D.id == delivery_id,
                    _D.state == DeliveryState.LEASED.value,
                    _D.lease_owner == owner,
                )
                .values(lease_owner=None, lease_until=None, updated_at=datetime.now(UTC), **values)
            )
        return bool(result.rowcount)

    def release_webhook_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        update = release_leases_update(
            webhook_deliveries,
            DeliveryState.LEASED.value,
            DeliveryState.PENDING.value,
            owner_prefix,
            keep_owner,
        )
        with self._db.write() as conn:
            return conn.execute(update).rowcount

    def redeliver_webhook(self, scope: Scope, delivery_id: str) -> WebhookDelivery:
        now = datetime.now(UTC)
        settled = (DeliveryState.FAILED.value, DeliveryState.DELIVERED.value)
        with self._db.write() as conn:
            found = _deliveries().where(_D.id == delivery_id, _scoped(webhook_deliveries, scope))
            if conn.execute(found).first() is None:
                raise NotFound(f"no such webhook delivery: {delivery_id}")
            conn.execute(
                webhook_deliveries.update()
                .where(_D.id == delivery_id, _D.state.in_(settled))
                .values(
                    state=DeliveryState.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    delivered_at=None,
                    updated_at=now,
                )
            )
            return _delivery(conn.execute(found).one())

    def list_webhook_deliveries(
        self,
        scope: Scope,
        state: DeliveryState | None = None,
        endpoint_id: str | None = None,
        limit: int = 100,
    ) -> list[WebhookDelivery]:
        query = _deliveries().where(_scoped(webhook_deliveries, scope))
        if state is not None:
            query = query.where(_D.state == state.value)
        if endpoint_id is not None:
            query = query.where(_D.endpoint_id == endpoint_id)
        query = query.order_by(_D.created_at.desc(), _D.id.desc()).limit(limit)
        with self._db.read() as conn:
            return [_delivery(row) for row in conn.execute(query).all()]


def _due_ids(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Ids to lease, of enabled endpoints only: expired leases first, then due rows.

    A disabled endpoint's deliveries wait where they are (PENDING), and go when it is
    enabled again.
    """
    enabled = sa.select(_E.id).where(_E.enabled.is_(True)).scalar_subquery()
    return due_ids(
        conn,
        webhook_deliveries,
        leased=DeliveryState.LEASED.value,
        pending=DeliveryState.PENDING.value,
        now=now,
        limit=limit,
        where=(_D.endpoint_id.in_(enabled),),
    )


def _deliveries() -> sa.Select[Any]:
    return sa.select(webhook_deliveries, _E.url, _E.secret_id).join(
        webhook_endpoints, _E.id == _D.endpoint_id
    )


def _delivery(row: sa.Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        tenant_id=row.tenant_id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        body=row.body,
        state=DeliveryState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        url=row.url,
        secret_id=row.secret_id,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        last_error=row.last_error,
        last_status=row.last_status,
        delivered_at=row.delivered_at,
    )
