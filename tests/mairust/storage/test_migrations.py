"""The Alembic migrations: they alone create the schema, and it matches sql_schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_migrations import current_revision, head_revision, upgrade_to_head
from mairust.storage.sql_schema import metadata


def test_fresh_database_is_at_no_revision_then_head(metadata_url: str, tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current_revision(fresh) is None
    upgrade_to_head(fresh)
    assert current_revision(fresh) == head_revision()
    assert current_revision(metadata_url) == head_revision()


def test_upgrade_is_idempotent(metadata_url: str) -> None:
    upgrade_to_head(metadata_url)
    upgrade_to_head(metadata_url)
    assert current_revision(metadata_url) == head_revision()


def test_migrated_schema_matches_the_code(metadata_url: str) -> None:
    engine = create_sql_engine(metadata_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_queue_index_and_uniques_exist(metadata_url: str) -> None:
    engine = create_sql_engine(metadata_url)
    try:
        inspector = sa.inspect(engine)
        indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("queue")}
        assert indexes["ix_queue_state_next_attempt_at"] == ["state", "next_attempt_at"]
        uniques = [u["column_names"] for u in inspector.get_unique_constraints("entries")]
        assert ["mailbox_id", "message_id"] in uniques
    finally:
        engine.dispose()


_MIGRATE = """
import sys, time
from pathlib import Path
from mairust.storage.sql_migrations import upgrade_to_head
print("ready", flush=True)
go = Path(sys.argv[2])
while not go.exists():  # start together, so the upgrades really overlap
    time.sleep(0.001)
upgrade_to_head(sys.argv[1])
"""


def test_concurrent_migrations_from_several_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    go = tmp_path / "go"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    try:
        for run in runs:
            assert run.stdout is not None
            assert run.stdout.readline().strip() == "ready"
        go.touch()
        results = [(run.wait(timeout=120), run.communicate()[1]) for run in runs]
    finally:
        for run in runs:
            run.kill()
    assert [code for code, _ in results] == [0] * len(runs), results
    assert current_revision(url) == head_revision()
    engine = create_sql_engine(url)
    try:
        with engine.connect() as conn:
            versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    finally:
        engine.dispose()
    assert versions == [(head_revision(),)]
