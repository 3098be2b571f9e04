"""The Alembic migrations: they alone create the schema, and it matches sql_schema,
on every backend of conftest.METADATA_URLS; several processes may migrate at once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mairust.model.scope import PLATFORM
from mairust.model.threads import ThreadHeaders
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_migrations import (
    PG_MIGRATION_LOCK,
    alembic_config,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from mairust.storage.sql_schema import metadata
from tests.support.postgres_databases import PostgresDatabases


def test_fresh_database_is_at_no_revision_then_head(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    upgrade_to_head(empty_url)
    assert current_revision(empty_url) == head_revision()


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


def test_concurrent_migrations_from_several_processes(empty_url: str, tmp_path: Path) -> None:
    url = empty_url
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


def test_postgres_migrations_wait_for_the_advisory_lock(
    postgres_databases: PostgresDatabases,
) -> None:
    with postgres_databases.database(migrated=False) as url:
        holder = create_sql_engine(url).connect()
        try:
            # Another process in the middle of migrating holds the lock.
            lock = sa.text("SELECT pg_advisory_lock(:key)")
            holder.execute(lock, {"key": PG_MIGRATION_LOCK})
            holder.commit()
            migrating = threading.Thread(target=upgrade_to_head, args=(url,))
            migrating.start()
            time.sleep(0.5)
            assert migrating.is_alive()
            assert current_revision(url) is None
            unlock = sa.text("SELECT pg_advisory_unlock(:key)")
            assert holder.execute(unlock, {"key": PG_MIGRATION_LOCK}).scalar()
            holder.commit()
            migrating.join(timeout=60)
            assert not migrating.is_alive()
            assert current_revision(url) == head_revision()
        finally:
            holder.close()
            holder.engine.dispose()


def test_0009_gives_old_entries_a_thread_of_their_own_and_their_auth_words(
    empty_url: str,
) -> None:
    engine = create_sql_engine(empty_url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    auth = {"spf": {"result": "pass"}, "dkim": [{"result": "fail"}], "dmarc": {"result": "fail"}}
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0005")
            conn.execute(sa.text("INSERT INTO tenants VALUES ('t1', 'acme', :now)"), {"now": now})
            conn.execute(
                sa.text("INSERT INTO mailboxes VALUES ('mb1', 't1', 'a@acme.example', NULL, :now)"),
                {"now": now},
            )
            for number, results in enumerate((json.dumps(auth), None)):
                conn.execute(
                    sa.text(
                        "INSERT INTO messages (id, blob_key, sha256, size, mail_from, rcpt_tos, "
                        "helo, client_ip, received_at, auth_results) VALUES "
                        "(:id, 'k', 's', 1, 'x@y', '[]', 'h', '127.0.0.1', :now, :auth)"
                    ),
                    {"id": f"m{number}", "now": now, "auth": results},
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO entries VALUES (:id, 't1', 'mb1', :msg, 'INBOX', '[]', "
                        "'s', 'x@y', '[]', NULL, 1, :now)"
                    ),
                    {"id": f"e{number}", "msg": f"m{number}", "now": now},
                )
    finally:
        engine.dispose()
    upgrade_to_head(empty_url)
    store = SqlMetadataStore(empty_url)
    try:
        checked, unchecked = store.get_entries(PLATFORM, ["e0", "e1"])
        assert (checked.thread_id, unchecked.thread_id) == ("e0", "e1")
        assert checked.thread == ThreadHeaders()
        assert (checked.seen, checked.flagged) == (False, False)
        assert [e.id for e in store.list_entries(PLATFORM, auth={"dmarc": "fail"})] == ["e0"]
        assert [e.id for e in store.list_entries(PLATFORM, auth={"dkim": "fail"})] == ["e0"]
        assert [e.id for e in store.thread_of(PLATFORM, "e1")] == ["e1"]
        # 0012 fills the usage counter from the entries already stored (1 byte each).
        mailbox = store.get_mailbox(PLATFORM, "mb1")
        assert (mailbox.used_bytes, mailbox.quota_bytes) == (2, None)
    finally:
        store.close()
