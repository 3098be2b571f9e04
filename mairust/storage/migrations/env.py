"""Alembic environment: runs the migrations on the connection the caller hands over.

``mairust.storage.sql_migrations.upgrade_to_head`` opens the connection (with our
SQLite pragmas and write lock) and the transaction; nothing here opens its own.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from mairust.storage.sql_schema import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "run migrations through mairust.storage.sql_migrations.upgrade_to_head "
            "(or `mairust migrate`), which provides the connection"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
