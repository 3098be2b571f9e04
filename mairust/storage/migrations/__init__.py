"""Alembic scripts of the metadata schema; run them through ``mairust.storage.sql_migrations``."""
