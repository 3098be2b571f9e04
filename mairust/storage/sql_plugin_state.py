"""Plugins' small key/value state in the SQL metadata store (``plugin_state``).

Each entry expires: a read ignores what has expired, and every write deletes a few of the
plugin's expired entries (``SWEEP_ON_WRITE``), so a plugin that keeps writing keeps its
table small without a sweeper of its own; :meth:`SqlPluginState.sweep_plugin_state` clears
the rest (a plugin that stopped writing). ``add_plugin_state`` is the one atomic primitive a
plugin needs to count something first-seen (a greylist's triplet): the first writer's
value holds, whoever wrote second reads it back.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mairust.errors import InvalidInput
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_entries import UPSERT_INSERTS
from mairust.storage.sql_schema import plugin_state

STATE_KEY_MAX = 512
STATE_VALUE_MAX = 4096
SWEEP_ON_WRITE = 16

_S = plugin_state.c


def _check(key: str, value: str | None = None) -> None:
    if not key or len(key) > STATE_KEY_MAX:
        raise InvalidInput(f"a state key is 1 to {STATE_KEY_MAX} characters")
    if value is not None and len(value) > STATE_VALUE_MAX:
        raise InvalidInput(f"a state value is at most {STATE_VALUE_MAX} characters")


class SqlPluginState:
    """The plugin-state part of :class:`~mairust.storage.sql_metadata.SqlMetadataStore`."""

    _db: SqlDatabase

    def get_plugin_state(self, plugin: str, key: str, now: datetime) -> str | None:
        _check(key)
        query = sa.select(_S.value).where(_S.plugin == plugin, _S.key == key, _S.expires_at > now)
        with self._db.read() as conn:
            value: str | None = conn.execute(query).scalar()
        return value

    def put_plugin_state(
        self, plugin: str, key: str, value: str, expires_at: datetime, now: datetime
    ) -> None:
        _check(key, value)
        insert = UPSERT_INSERTS[self._db.dialect](plugin_state).values(
            plugin=plugin, key=key, value=value, expires_at=expires_at, updated_at=now
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["plugin", "key"],
            set_={"value": value, "expires_at": expires_at, "updated_at": now},
        )
        with self._db.write() as conn:
            _sweep_some(conn, plugin, now)
            conn.execute(upsert)

    def add_plugin_state(
        self, plugin: str, key: str, value: str, expires_at: datetime, now: datetime
    ) -> str:
        _check(key, value)
        insert = UPSERT_INSERTS[self._db.dialect](plugin_state).values(
            plugin=plugin, key=key, value=value, expires_at=expires_at, updated_at=now
        )
        with self._db.write() as conn:
            _sweep_some(conn, plugin, now)
            # An expired entry under this key is gone now: the insert below takes its place.
            conn.execute(
                plugin_state.delete().where(
                    _S.plugin == plugin, _S.key == key, _S.expires_at <= now
                )
            )
            conn.execute(insert.on_conflict_do_nothing(index_elements=["plugin", "key"]))
            held: str = conn.execute(
                sa.select(_S.value).where(_S.plugin == plugin, _S.key == key)
            ).scalar_one()
        return held

    def delete_plugin_state(self, plugin: str, key: str) -> bool:
        _check(key)
        with self._db.write() as conn:
            result = conn.execute(plugin_state.delete().where(_S.plugin == plugin, _S.key == key))
        return bool(result.rowcount)

    def sweep_plugin_state(self, now: datetime, limit: int = 1000) -> int:
        if limit <= 0:
            return 0
        with self._db.write() as conn:
            expired = (
                sa.select(_S.plugin, _S.key).where(_S.expires_at <= now).limit(limit).subquery()
            )
            rows = conn.execute(sa.select(expired.c.plugin, expired.c.key)).all()
            for plugin, key in rows:
                conn.execute(plugin_state.delete().where(_S.plugin == plugin, _S.key == key))
        return len(rows)


def _sweep_some(conn: Connection, plugin: str, now: datetime) -> None:
    """Delete up to ``SWEEP_ON_WRITE`` of the plugin's expired entries."""
    expired = (
        sa.select(_S.key)
        .where(_S.plugin == plugin, _S.expires_at <= now)
        .limit(SWEEP_ON_WRITE)
        .scalar_subquery()
    )
    conn.execute(plugin_state.delete().where(_S.plugin == plugin, _S.key.in_(expired)))
