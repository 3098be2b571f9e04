"""Aliases and catch-alls of local domains in the SQL metadata store.

Every management read and delete goes through the caller's scope in the query itself
(another tenant's alias is a missing one, invariant 5); the routing lookups
(``alias_targets``, ``catchall_mailbox``) span every tenant, like ``find_mailbox``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import assert_never

import sqlalchemy as sa

from mairust.errors import Conflict, InvalidInput, NotFound
from mairust.model.address import normalize_address, normalize_domain
from mairust.model.directory import Alias, CatchAll, Mailbox
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.storage.sql_directory import mailbox_from_row
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import (
    alias_targets,
    aliases,
    domain_catchalls,
    domains,
    mailboxes,
)


class SqlAliases:
    """The alias part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    # -- aliases ---------------------------------------------------------------------
    def add_alias(self, address: str, tenant_id: str, target_ids: Sequence[str]) -> Alias:
        normalized = normalize_address(address)
        domain = normalized.rpartition("@")[2]
        wanted = sorted(set(target_ids))
        if not wanted:
            raise InvalidInput("an alias needs at least one target mailbox")
        now = datetime.now(UTC)
        with self._db.write() as conn:
            require_domain_of(conn, domain, tenant_id)
            targets = conn.execute(
                sa.select(mailboxes.c.id, mailboxes.c.address).where(
                    mailboxes.c.id.in_(wanted), mailboxes.c.tenant_id == tenant_id
                )
            ).all()
            if len(targets) != len(wanted):
                raise NotFound("an alias target is not a mailbox of this tenant")
            for kind, column in (
                ("an alias", aliases.c.address),
                ("a mailbox", mailboxes.c.address),
            ):
                if conn.execute(sa.select(column).where(column == normalized)).first():
                    raise Conflict(f"{normalized} is {kind} already")
            conn.execute(
                aliases.insert().values(
                    address=normalized, domain=domain, tenant_id=tenant_id, created_at=now
                )
            )
            conn.execute(
                alias_targets.insert(),
                [{"alias_address": normalized, "mailbox_id": row.id} for row in targets],
            )
        return Alias(normalized, domain, tenant_id, tuple(sorted(r.address for r in targets)), now)

    def list_aliases(self, scope: Scope, domain: str) -> list[Alias]:
        query = (
            sa.select(aliases, mailboxes.c.address.label("target"))
            .join(alias_targets, alias_targets.c.alias_address == aliases.c.address)
            .join(mailboxes, mailboxes.c.id == alias_targets.c.mailbox_id)
            .where(aliases.c.domain == normalize_domain(domain), *tenant_rows(scope, aliases))
            .order_by(aliases.c.address, mailboxes.c.address)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        found: dict[str, Alias] = {}
        for row in rows:
            alias = found.get(row.address)
            targets = (alias.targets if alias else ()) + (row.target,)
            found[row.address] = Alias(
                row.address, row.domain, row.tenant_id, targets, row.created_at
            )
        return list(found.values())

    def delete_alias(self, scope: Scope, address: str) -> None:
        normalized = normalize_address(address)
        with self._db.write() as conn:
            owned = conn.execute(
                sa.select(aliases.c.address).where(
                    aliases.c.address == normalized, *tenant_rows(scope, aliases)
                )
            ).first()
            if owned is None:
                raise NotFound(f"no alias {normalized!r}")
            # Targets first: the cascade is not relied on (SQLite enforces it only per
            # connection setting).
            conn.execute(alias_targets.delete().where(alias_targets.c.alias_address == normalized))
            conn.execute(aliases.delete().where(aliases.c.address == normalized))

    def alias_targets(self, address: str) -> list[Mailbox]:
        query = (
            sa.select(mailboxes)
            .join(alias_targets, alias_targets.c.mailbox_id == mailboxes.c.id)
            .join(aliases, aliases.c.address == alias_targets.c.alias_address)
            # A target moved to another tenant (never today) would not receive its mail.
            .where(aliases.c.address == address, mailboxes.c.tenant_id == aliases.c.tenant_id)
            .order_by(mailboxes.c.address)
        )
        with self._db.read() as conn:
            return [mailbox_from_row(row) for row in conn.execute(query)]

    # -- catch-alls ------------------------------------------------------------------
    def set_catchall(self, domain: str, tenant_id: str, mailbox_id: str) -> CatchAll:
        name = normalize_domain(domain)
        now = datetime.now(UTC)
        with self._db.write() as conn:
            require_domain_of(conn, name, tenant_id)
            address = conn.execute(
                sa.select(mailboxes.c.address).where(
                    mailboxes.c.id == mailbox_id, mailboxes.c.tenant_id == tenant_id
                )
            ).scalar()
            if address is None:
                raise NotFound("the catch-all target is not a mailbox of this tenant")
            conn.execute(domain_catchalls.delete().where(domain_catchalls.c.domain == name))
            conn.execute(
                domain_catchalls.insert().values(domain=name, mailbox_id=mailbox_id, updated_at=now)
            )
        return CatchAll(name, tenant_id, address, now)

    def get_catchall(self, scope: Scope, domain: str) -> CatchAll | None:
        query = (
            sa.select(domain_catchalls, domains.c.tenant_id, mailboxes.c.address)
            .join(domains, domains.c.name == domain_catchalls.c.domain)
            .join(mailboxes, mailboxes.c.id == domain_catchalls.c.mailbox_id)
            .where(
                domain_catchalls.c.domain == normalize_domain(domain), *tenant_rows(scope, domains)
            )
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return CatchAll(row.domain, row.tenant_id, row.address, row.updated_at)

    def clear_catchall(self, scope: Scope, domain: str) -> None:
        name = normalize_domain(domain)
        owned = sa.select(domains.c.name).where(
            domains.c.name == name, *tenant_rows(scope, domains)
        )
        delete = domain_catchalls.delete().where(
            domain_catchalls.c.domain == name, domain_catchalls.c.domain.in_(owned)
        )
        with self._db.write() as conn:
            if conn.execute(delete).rowcount != 1:
                raise NotFound(f"no catch-all for {name!r}")

    def catchall_mailbox(self, domain: str) -> Mailbox | None:
        query = (
            sa.select(mailboxes)
            .join(domain_catchalls, domain_catchalls.c.mailbox_id == mailboxes.c.id)
            .where(domain_catchalls.c.domain == domain)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else mailbox_from_row(row)


def require_domain_of(conn: sa.Connection, domain: str, tenant_id: str) -> None:
    """NotFound unless ``domain`` is a local domain of ``tenant_id`` (inside a write)."""
    owner = conn.execute(sa.select(domains.c.tenant_id).where(domains.c.name == domain)).scalar()
    if owner != tenant_id:
        raise NotFound(f"not a local domain: {domain}")


def tenant_rows(scope: Scope, table: sa.Table) -> list[sa.ColumnElement[bool]]:
    """Rows of ``table`` (which has ``tenant_id``) inside ``scope``; a user's scope holds
    no domain settings (they are the tenant's)."""
    match scope:
        case TenantScope(tenant_id=tenant_id, mailbox_id=None):
            return [table.c.tenant_id == tenant_id]
        case TenantScope():
            return [sa.false()]
        case PlatformScope():
            return []
        case _:
            assert_never(scope)
