"""Installed plugins and their hook bindings in the SQL metadata store.

These are the platform operator's: no tenant scope applies to managing them (the service
layer lets only the platform admin in). ``active_bindings`` is what the hook runtime reads:
the enabled bindings of enabled plugins at one point, in the order they are tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from mairust.errors import Conflict, NotFound
from mairust.model.ids import first_id_at
from mairust.model.plugins import HookBinding, HookCall, InstalledPlugin
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_hook_figures import SqlHookFigures
from mairust.storage.sql_schema import (
    domains,
    hook_bindings,
    hook_breakers,
    hook_call_counts,
    hook_call_latency,
    hook_calls,
    plugin_secrets,
    plugins,
    secrets,
    tenants,
)


class SqlPlugins(SqlHookFigures):
    """The plugin part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore` (with
    the figures kept beside the call log)."""

    _db: SqlDatabase

    def add_plugin(self, plugin: InstalledPlugin) -> None:
        with self._db.write() as conn:
            if conn.execute(sa.select(plugins.c.name).where(plugins.c.name == plugin.name)).first():
                raise Conflict(f"plugin {plugin.name} is installed already")
            conn.execute(
                plugins.insert().values(
                    name=plugin.name,
                    version=plugin.version,
                    manifest=plugin.manifest,
                    enabled=plugin.enabled,
                    config=plugin.config,
                    installed_at=plugin.installed_at,
                    updated_at=plugin.updated_at,
                )
            )

    def get_plugin(self, name: str) -> InstalledPlugin | None:
        with self._db.read() as conn:
            row = conn.execute(plugins.select().where(plugins.c.name == name)).first()
        return None if row is None else _plugin(row)

    def list_plugins(self) -> list[InstalledPlugin]:
        with self._db.read() as conn:
            return [_plugin(row) for row in conn.execute(plugins.select().order_by(plugins.c.name))]

    def update_plugin(
        self,
        name: str,
        *,
        version: str | None = None,
        manifest: dict[str, Any] | None = None,
        enabled: bool | None = None,
        config: dict[str, Any] | None = None,
    ) -> InstalledPlugin:
        changes: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        for key, value in (
            ("version", version),
            ("manifest", manifest),
            ("enabled", enabled),
            ("config", config),
        ):
            if value is not None:
                changes[key] = value
        with self._db.write() as conn:
            done = conn.execute(plugins.update().where(plugins.c.name == name).values(**changes))
            if done.rowcount != 1:
                raise NotFound(f"no plugin {name!r}")
            row = conn.execute(plugins.select().where(plugins.c.name == name)).one()
        return _plugin(row)

    def remove_plugin(self, name: str) -> None:
        with self._db.write() as conn:
            # Bindings first: the cascade is not relied on (SQLite enforces it per connection).
            conn.execute(hook_bindings.delete().where(hook_bindings.c.plugin == name))
            # Its figures go with it (a new install counts from zero); its call log stays.
            for figures in (hook_call_counts, hook_call_latency, hook_breakers):
                conn.execute(figures.delete().where(figures.c.plugin == name))
            # Its secrets too: the names, then the sealed values they held.
            held = sa.select(plugin_secrets.c.secret_id).where(plugin_secrets.c.plugin == name)
            held_ids = list(conn.execute(held).scalars())
            conn.execute(plugin_secrets.delete().where(plugin_secrets.c.plugin == name))
            if held_ids:
                conn.execute(secrets.delete().where(secrets.c.id.in_(held_ids)))
            if conn.execute(plugins.delete().where(plugins.c.name == name)).rowcount != 1:
                raise NotFound(f"no plugin {name!r}")

    def add_binding(self, binding: HookBinding) -> None:
        with self._db.write() as conn:
            if not conn.execute(
                sa.select(plugins.c.name).where(plugins.c.name == binding.plugin)
            ).first():
                raise NotFound(f"no plugin {binding.plugin!r}")
            for column, value, what in (
                (tenants.c.id, binding.tenant_id, "tenant"),
                (domains.c.name, binding.domain, "local domain"),
            ):
                if (
                    value is not None
                    and not conn.execute(sa.select(column).where(column == value)).first()
                ):
                    raise NotFound(f"no {what} {value!r}")
            conn.execute(
                hook_bindings.insert().values(
                    id=binding.id,
                    plugin=binding.plugin,
                    point=binding.point,
                    priority=binding.priority,
                    mode=binding.mode,
                    enabled=binding.enabled,
                    tenant_id=binding.tenant_id,
                    domain=binding.domain,
                    created_at=binding.created_at,
                )
            )

    def get_binding(self, binding_id: str) -> HookBinding | None:
        with self._db.read() as conn:
            row = conn.execute(
                hook_bindings.select().where(hook_bindings.c.id == binding_id)
            ).first()
        return None if row is None else _binding(row)

    def list_bindings(self, point: str | None = None) -> list[HookBinding]:
        query = hook_bindings.select().order_by(
            hook_bindings.c.point,
            hook_bindings.c.priority,
            hook_bindings.c.created_at,
            hook_bindings.c.id,
        )
        if point is not None:
            query = query.where(hook_bindings.c.point == point)
        with self._db.read() as conn:
            return [_binding(row) for row in conn.execute(query)]

    def update_binding(
        self,
        binding_id: str,
        *,
        priority: int | None = None,
        mode: str | None = None,
        enabled: bool | None = None,
    ) -> HookBinding:
        changes = {
            key: value
            for key, value in (("priority", priority), ("mode", mode), ("enabled", enabled))
            if value is not None
        }
        with self._db.write() as conn:
            where = hook_bindings.c.id == binding_id
            if (
                changes
                and conn.execute(hook_bindings.update().where(where).values(**changes)).rowcount
                != 1
            ):
                raise NotFound(f"no hook binding {binding_id!r}")
            row = conn.execute(hook_bindings.select().where(where)).first()
        if row is None:
            raise NotFound(f"no hook binding {binding_id!r}")
        return _binding(row)

    def delete_binding(self, binding_id: str) -> None:
        with self._db.write() as conn:
            done = conn.execute(hook_bindings.delete().where(hook_bindings.c.id == binding_id))
            if done.rowcount != 1:
                raise NotFound(f"no hook binding {binding_id!r}")

    def record_hook_calls(self, calls: Sequence[HookCall]) -> None:
        if not calls:
            return
        with self._db.write() as conn:
            conn.execute(
                hook_calls.insert(),
                [
                    {
                        "id": call.id,
                        "at": call.at,
                        "point": call.point,
                        "plugin": call.plugin,
                        "mode": call.mode,
                        "outcome": call.outcome,
                        "verdict": call.verdict,
                        "latency_ms": call.latency_ms,
                        "error": call.error,
                        "dropped": call.dropped,
                    }
                    for call in calls
                ],
            )
            self._add_to_figures(conn, calls)

    def set_plugin_secret(self, plugin: str, name: str, secret_id: str, at: datetime) -> str | None:
        with self._db.write() as conn:
            if not conn.execute(sa.select(plugins.c.name).where(plugins.c.name == plugin)).first():
                raise NotFound(f"no plugin {plugin!r}")
            where = (plugin_secrets.c.plugin == plugin) & (plugin_secrets.c.name == name)
            before = conn.execute(sa.select(plugin_secrets.c.secret_id).where(where)).scalar()
            if before is None:
                conn.execute(
                    plugin_secrets.insert().values(
                        plugin=plugin, name=name, secret_id=secret_id, set_at=at
                    )
                )
                return None
            changed = plugin_secrets.update().where(where)
            conn.execute(changed.values(secret_id=secret_id, set_at=at))
            # The value it held goes with it, in the same transaction.
            conn.execute(secrets.delete().where(secrets.c.id == before))
            return str(before)

    def plugin_secrets(self, plugin: str) -> dict[str, tuple[str, datetime]]:
        query = sa.select(plugin_secrets).where(plugin_secrets.c.plugin == plugin)
        with self._db.read() as conn:
            return {row.name: (row.secret_id, row.set_at) for row in conn.execute(query)}

    def delete_plugin_secret(self, plugin: str, name: str) -> None:
        where = (plugin_secrets.c.plugin == plugin) & (plugin_secrets.c.name == name)
        with self._db.write() as conn:
            held = conn.execute(sa.select(plugin_secrets.c.secret_id).where(where)).scalar()
            if held is None:
                raise NotFound(f"plugin {plugin!r} has no secret {name!r} set")
            conn.execute(plugin_secrets.delete().where(where))
            conn.execute(secrets.delete().where(secrets.c.id == held))

    def forget_hook_calls(self, before: datetime, limit: int = 5000) -> int:
        # By id (time-ordered, the primary key): no scan of the log for its dates.
        below = first_id_at(int(before.timestamp() * 1000))
        oldest = sa.select(hook_calls.c.id).where(hook_calls.c.id < below).limit(limit)
        with self._db.write() as conn:
            gone = conn.execute(hook_calls.delete().where(hook_calls.c.id.in_(oldest)))
        return int(gone.rowcount)

    def list_hook_calls(
        self, plugin: str, limit: int = 100, before: str | None = None
    ) -> list[HookCall]:
        query = (
            hook_calls.select()
            .where(hook_calls.c.plugin == plugin)
            .order_by(hook_calls.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(hook_calls.c.id < before)
        with self._db.read() as conn:
            return [
                HookCall(
                    row.id,
                    row.at,
                    row.point,
                    row.plugin,
                    row.mode,
                    row.outcome,
                    row.verdict,
                    row.latency_ms,
                    row.error,
                    tuple(row.dropped),
                )
                for row in conn.execute(query)
            ]

    def active_bindings(self, point: str) -> list[tuple[HookBinding, InstalledPlugin]]:
        query = (
            sa.select(hook_bindings, plugins.c.name.label("p_name"))
            .join(plugins, plugins.c.name == hook_bindings.c.plugin)
            .where(hook_bindings.c.point == point, hook_bindings.c.enabled, plugins.c.enabled)
            .order_by(hook_bindings.c.priority, hook_bindings.c.created_at, hook_bindings.c.id)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            names = {row.plugin for row in rows}
            found = {
                row.name: _plugin(row)
                for row in conn.execute(plugins.select().where(plugins.c.name.in_(names)))
            }
        return [(_binding(row), found[row.plugin]) for row in rows]


def _plugin(row: sa.Row[Any]) -> InstalledPlugin:
    return InstalledPlugin(
        name=row.name,
        version=row.version,
        manifest=row.manifest,
        enabled=row.enabled,
        config=row.config,
        installed_at=row.installed_at,
        updated_at=row.updated_at,
    )


def _binding(row: sa.Row[Any]) -> HookBinding:
    return HookBinding(
        id=row.id,
        plugin=row.plugin,
        point=row.point,
        priority=row.priority,
        mode=row.mode,
        enabled=row.enabled,
        tenant_id=row.tenant_id,
        domain=row.domain,
        created_at=row.created_at,
    )
