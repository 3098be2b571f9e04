"""Domain policies and routing rules in the SQL metadata store.

Management reads and writes go through the caller's scope in the query itself (another
tenant's domain or rule is a missing one, invariant 5); ``routing_rules`` (the routing
lookup) spans every tenant, like ``find_mailbox``. A domain's policy is read with the
domain itself (``get_domain``), so routing a recipient costs no extra query for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from mairust.errors import Conflict, NotFound
from mairust.model.address import normalize_domain
from mairust.model.ids import new_id
from mairust.model.policy import DomainPolicy, RouteAction, RoutingRule
from mairust.model.scope import Scope
from mairust.storage.sql_aliases import require_domain_of, tenant_rows
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import domains, routing_rules


class SqlPolicy:
    """The policy part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def set_domain_policy(self, scope: Scope, domain: str, policy: DomainPolicy) -> None:
        update = (
            domains.update()
            .where(domains.c.name == normalize_domain(domain), *tenant_rows(scope, domains))
            .values(
                spf_mode=policy.spf,
                dmarc_mode=policy.dmarc,
                max_message_bytes=policy.max_message_bytes,
                messages_per_minute=policy.messages_per_minute,
            )
        )
        with self._db.write() as conn:
            if conn.execute(update).rowcount != 1:
                raise NotFound(f"not a local domain: {domain}")

    def routing_rules(self, domain: str) -> list[RoutingRule]:
        query = (
            routing_rules.select()
            .where(routing_rules.c.domain == domain)
            .order_by(routing_rules.c.position, routing_rules.c.created_at, routing_rules.c.id)
        )
        with self._db.read() as conn:
            return [_rule_from_row(row) for row in conn.execute(query)]

    def list_routing_rules(self, scope: Scope, domain: str) -> list[RoutingRule]:
        query = (
            routing_rules.select()
            .where(
                routing_rules.c.domain == normalize_domain(domain),
                *tenant_rows(scope, routing_rules),
            )
            .order_by(routing_rules.c.position, routing_rules.c.created_at, routing_rules.c.id)
        )
        with self._db.read() as conn:
            return [_rule_from_row(row) for row in conn.execute(query)]

    def add_routing_rule(
        self,
        domain: str,
        tenant_id: str,
        pattern: str,
        action: RouteAction,
        target: str,
        position: int | None = None,
    ) -> RoutingRule:
        name = normalize_domain(domain)
        with self._db.write() as conn:
            require_domain_of(conn, name, tenant_id)
            taken = conn.execute(
                sa.select(routing_rules.c.id).where(
                    routing_rules.c.domain == name, routing_rules.c.pattern == pattern
                )
            ).first()
            if taken is not None:
                raise Conflict(f"{name} has a rule for {pattern!r} already")
            if position is None:  # after the last one
                last = conn.execute(
                    sa.select(sa.func.max(routing_rules.c.position)).where(
                        routing_rules.c.domain == name
                    )
                ).scalar()
                position = 0 if last is None else last + 10
            rule = RoutingRule(
                new_id(), name, tenant_id, pattern, action, target, position, datetime.now(UTC)
            )
            conn.execute(
                routing_rules.insert().values(
                    id=rule.id,
                    domain=rule.domain,
                    tenant_id=rule.tenant_id,
                    pattern=rule.pattern,
                    action=rule.action.value,
                    target=rule.target,
                    position=rule.position,
                    created_at=rule.created_at,
                )
            )
        return rule

    def delete_routing_rule(self, scope: Scope, domain: str, rule_id: str) -> RoutingRule:
        where = (
            routing_rules.c.id == rule_id,
            routing_rules.c.domain == normalize_domain(domain),
            *tenant_rows(scope, routing_rules),
        )
        with self._db.write() as conn:
            row = conn.execute(routing_rules.select().where(*where)).first()
            if row is None:
                raise NotFound(f"no routing rule {rule_id!r}")
            conn.execute(routing_rules.delete().where(*where))
        return _rule_from_row(row)


def _rule_from_row(row: sa.Row[Any]) -> RoutingRule:
    return RoutingRule(
        id=row.id,
        domain=row.domain,
        tenant_id=row.tenant_id,
        pattern=row.pattern,
        action=RouteAction(row.action),
        target=row.target,
        position=row.position,
        created_at=row.created_at,
    )
