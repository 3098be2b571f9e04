"""Learning plugins' trained models in the SQL metadata store (``plugin_models``), part of
:class:`~mairust.storage.sql_metadata.SqlMetadataStore`.

A version is the primary key with the plugin, so two trainings that both read version n
cannot both store n + 1: the second is a Conflict (a unique violation), never a lost update.
"""

from __future__ import annotations

import sqlalchemy as sa

from mairust.errors import Conflict
from mairust.model.plugin_models import PluginModel
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import plugin_models


class SqlPluginModels:
    _db: SqlDatabase

    def add_plugin_model(self, model: PluginModel, keep: int = 5) -> None:
        table = plugin_models
        with self._db.write() as conn:
            newest = conn.execute(
                sa.select(sa.func.max(table.c.version)).where(table.c.plugin == model.plugin)
            ).scalar()
            if model.version != (newest or 0) + 1:
                raise Conflict(
                    f"plugin {model.plugin} has model version {newest or 0} now, "
                    f"not {model.version - 1}: it was trained meanwhile"
                )
            conn.execute(
                table.insert().values(
                    plugin=model.plugin,
                    version=model.version,
                    model=model.model,
                    examples=model.examples,
                    source=model.source,
                    created_at=model.created_at,
                )
            )
            conn.execute(
                table.delete().where(
                    table.c.plugin == model.plugin, table.c.version <= model.version - keep
                )
            )

    def get_plugin_model(self, plugin: str, version: int | None = None) -> PluginModel | None:
        table = plugin_models
        query = table.select().where(table.c.plugin == plugin)
        if version is not None:
            query = query.where(table.c.version == version)
        with self._db.read() as conn:
            row = conn.execute(query.order_by(table.c.version.desc()).limit(1)).first()
        if row is None:
            return None
        return PluginModel(
            row.plugin,
            row.version,
            bytes(row.model),
            row.examples,
            row.source,
            row.created_at,
        )

    def plugin_model_versions(self) -> dict[str, int]:
        table = plugin_models
        query = sa.select(table.c.plugin, sa.func.max(table.c.version)).group_by(table.c.plugin)
        with self._db.read() as conn:
            return {plugin: int(version) for plugin, version in conn.execute(query)}
