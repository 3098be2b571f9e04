"""Learning plugins' trained states in the SQL metadata store (``plugin_states``), part of
:class:`~mairust.storage.sql_metadata.SqlMetadataStore`.

A version is the primary key with the plugin, so two trainings that both read version n
cannot both store n + 1: the second is a Conflict (a unique violation), never a lost update.
"""

from __future__ import annotations

import sqlalchemy as sa

from mairust.errors import Conflict
from mairust.model.plugin_states import PluginState
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import plugin_states


class SqlPluginStates:
    _db: SqlDatabase

    def add_plugin_state(self, state: PluginState, keep: int = 5) -> None:
        table = plugin_states
        with self._db.write() as conn:
            newest = conn.execute(
                sa.select(sa.func.max(table.c.version)).where(table.c.plugin == state.plugin)
            ).scalar()
            if state.version != (newest or 0) + 1:
                raise Conflict(
                    f"plugin {state.plugin} has state version {newest or 0} now, "
                    f"not {state.version - 1}: it was trained meanwhile"
                )
            conn.execute(
                table.insert().values(
                    plugin=state.plugin,
                    version=state.version,
                    state=state.state,
                    examples=state.examples,
                    source=state.source,
                    created_at=state.created_at,
                )
            )
            conn.execute(
                table.delete().where(
                    table.c.plugin == state.plugin, table.c.version <= state.version - keep
                )
            )

    def get_plugin_state(self, plugin: str, version: int | None = None) -> PluginState | None:
        table = plugin_states
        query = table.select().where(table.c.plugin == plugin)
        if version is not None:
            query = query.where(table.c.version == version)
        with self._db.read() as conn:
            row = conn.execute(query.order_by(table.c.version.desc()).limit(1)).first()
        if row is None:
            return None
        return PluginState(
            row.plugin,
            row.version,
            bytes(row.state),
            row.examples,
            row.source,
            row.created_at,
        )

    def plugin_state_versions(self) -> dict[str, int]:
        table = plugin_states
        query = sa.select(table.c.plugin, sa.func.max(table.c.version)).group_by(table.c.plugin)
        with self._db.read() as conn:
            return {plugin: int(version) for plugin, version in conn.execute(query)}
