"""Leasing the queue from several processes at once, and PostgreSQL's SKIP LOCKED.

The contract tests lease from threads of one process; here separate processes,
each with its own connection pool, lease from one database as Ray workers do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from mairust.model.message import SpoolRecord
from mairust.model.queue import QueueState
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.postgres_databases import PostgresDatabases

RecordMaker = Callable[..., SpoolRecord]

_LEASER = """
import json, sys, time
from pathlib import Path
from mairust.storage.sql_metadata import SqlMetadataStore

url, owner, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
store = SqlMetadataStore(url)
store.list_tenants()  # connected before the start, so the leasers really overlap
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
taken = []
while batch := store.lease_batch(owner, 10, 60):
    assert all(item.lease_owner == owner for item in batch)
    taken.extend(item.id for item in batch)
    store.ack([item.id for item in batch], owner)
store.close()
print(json.dumps(taken), flush=True)
"""


def test_processes_leasing_together_never_share_a_row(
    metadata_url: str, make_record: RecordMaker, tmp_path: Path
) -> None:
    store = SqlMetadataStore(metadata_url)
    store.commit_messages([make_record(f"r{i}@x.test") for i in range(600)])
    go = tmp_path / "go"
    leasers = [
        subprocess.Popen(
            [sys.executable, "-c", _LEASER, metadata_url, f"worker-{n}", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    try:
        for leaser in leasers:
            assert leaser.stdout is not None
            assert leaser.stdout.readline().strip() == "ready"
        go.touch()
        results = [leaser.communicate(timeout=120) for leaser in leasers]
        assert [leaser.returncode for leaser in leasers] == [0, 0, 0], results
        taken = [json.loads(out) for out, _ in results]
        counts = Counter(item_id for ids in taken for item_id in ids)
        assert len(counts) == 600
        assert max(counts.values()) == 1  # no row was leased twice
        if sa.make_url(metadata_url).get_backend_name() != "sqlite":
            # SKIP LOCKED: leasers pass each other instead of queueing for one lock, so
            # each gets a share (SQLite's busy wait may let one process take it all).
            assert all(ids for ids in taken), [len(ids) for ids in taken]
        assert store.queue_counts()[QueueState.DONE] == 600
    finally:
        for leaser in leasers:
            leaser.kill()
        store.close()


def test_postgres_leasing_skips_rows_another_transaction_holds(
    postgres_databases: PostgresDatabases, make_record: RecordMaker
) -> None:
    with postgres_databases.database() as url:
        store = SqlMetadataStore(url, busy_timeout=10)
        holder = create_sql_engine(url).connect()
        try:
            store.commit_messages([make_record("a@x.test", "b@x.test", "c@x.test")])
            # Another leaser's transaction, still open, holding the first row.
            held = holder.execute(
                sa.text("SELECT id FROM queue ORDER BY id LIMIT 1 FOR UPDATE")
            ).scalar_one()
            started = time.monotonic()
            leased = store.lease_batch("w1", 10, 60)
            assert time.monotonic() - started < 2  # skipped, not waited for (lock_timeout 10 s)
            assert held not in {item.id for item in leased}
            assert len(leased) == 2
            holder.rollback()
            [last] = store.lease_batch("w2", 10, 60)
            assert (last.id, last.lease_owner) == (held, "w2")
        finally:
            holder.close()
            holder.engine.dispose()
            store.close()
