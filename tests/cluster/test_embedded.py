"""cluster/embedded: what `mairust up` prepares in the stores before Ray starts, and its stop.

No Ray is started here: ``prepare_stores`` and a stop before any start need none.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import sqlite3
import stat
from datetime import UTC, datetime

import pytest
import ray

from cluster.embedded import EmbeddedCluster
from cluster.ray_address import record_address, recorded_address
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.mailbox import NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.queue import QueueState
from mairust.model.scope import PLATFORM
from mairust.pipeline.dispatcher import dispatcher_identity, new_incarnation
from mairust.storage.factory import migrate, open_stores
from mairust.storage.fts5_search import Fts5SearchIndex


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", domains=["example.test", "Other.Test"])


def test_prepare_creates_the_configured_domains_once(settings):
    EmbeddedCluster(settings).prepare_stores()
    EmbeddedCluster(settings).prepare_stores()  # a second `mairust up` on the same data

    stores = open_stores(settings.storage)
    try:
        domains = stores.metadata.list_domains(PLATFORM)
        tenants = stores.metadata.list_tenants()
    finally:
        stores.close()
    assert sorted(domain.name for domain in domains) == ["example.test", "other.test"]
    # Each domain got its own tenant, named after it, exactly once.
    owners = {t.id: t.name for t in tenants}
    assert sorted(owners[domain.tenant_id] for domain in domains) == [
        "example.test",
        "other.test",
    ]
    assert len(tenants) == 2


def test_prepare_hands_back_the_leases_of_a_dead_run_and_no_one_elses(settings):
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    try:
        tenant = stores.metadata.create_tenant("example.test")
        stores.metadata.add_domain("example.test", tenant.id)
        body = b"Subject: left behind\r\n\r\nhi\r\n"
        info = stores.blobs.put(body)
        ref = MessageRef(id=new_id(), size=info.size, sha256=info.sha256, blob_key=info.key)
        envelope = Envelope(
            mail_from="s@remote.example",
            rcpt_tos=("a@example.test", "b@example.test", "c@example.test"),
            received_at=datetime.now(UTC),
        )
        stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
        # The previous run's dispatcher leased two for an hour, then died; a dispatcher of
        # another node (same database) holds the third.
        dead_run = new_incarnation(dispatcher_identity(settings.data_dir))
        leased = stores.metadata.lease_batch(dead_run, 2, 3600)
        assert len(leased) == 2
        elsewhere = new_incarnation(dispatcher_identity(settings.data_dir, node="mx-other"))
        [kept] = stores.metadata.lease_batch(elsewhere, 10, 3600)
        assert stores.metadata.lease_batch("someone-else", 10, 60) == []
    finally:
        stores.close()

    EmbeddedCluster(settings).prepare_stores()

    stores = open_stores(settings.storage)
    try:
        queued = stores.metadata.list_queue(QueueState.QUEUED)
        assert sorted(row.id for row in queued) == sorted(row.id for row in leased)
        assert all(row.lease_owner is None for row in queued)
        [still] = stores.metadata.list_queue(QueueState.LEASED)
        assert (still.id, still.lease_owner) == (kept.id, elsewhere)
        # Due at once for the new run's dispatcher.
        again = stores.metadata.lease_batch("dispatcher-of-this-run", 10, 60)
        assert sorted(row.id for row in again) == sorted(row.id for row in leased)
    finally:
        stores.close()


def test_configured_admin_token_is_used_and_nothing_is_written(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", api={"admin_token": "configured-token"})
    assert EmbeddedCluster(settings).prepare_stores() == "configured-token"
    assert not (settings.data_dir / "admin_token").exists()


def test_generated_admin_token_is_persisted_privately_and_reused(settings):
    token = EmbeddedCluster(settings).prepare_stores()

    token_file = settings.data_dir / "admin_token"
    assert len(token) >= 32
    assert token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert EmbeddedCluster(settings).prepare_stores() == token


def test_stop_before_start_is_harmless(settings):
    assert not ray.is_initialized()
    EmbeddedCluster(settings).stop()
    assert not ray.is_initialized()


def test_stop_removes_the_ray_address_record(settings):
    """`mairust cluster status` must not find a stopped platform's address."""
    settings.data_dir.mkdir(parents=True)
    record_address(settings.data_dir, "127.0.0.1:6379")
    EmbeddedCluster(settings).stop()
    assert recorded_address(settings.data_dir) is None


def test_prepare_rebuilds_a_search_index_of_an_old_layout(settings):
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    try:
        tenant = stores.metadata.create_tenant("t")
        stores.metadata.add_domain("old.example", tenant.id)
        box = stores.metadata.add_mailbox("a@old.example")
        info = stores.blobs.put(b"Subject: quokka\r\n\r\nold layout\r\n")
        ref = MessageRef(new_id(), info.size, info.sha256, info.key)
        envelope = Envelope("s@r.example", (box.address,), datetime.now(UTC))
        stores.metadata.commit_messages([SpoolRecord(ref, envelope)])
        stores.metadata.store_entry(
            NewEntry(tenant.id, box.id, ref.id, "quokka", "s@r.example", (), None, 1)
        )
        assert isinstance(stores.search, Fts5SearchIndex)
        path = stores.search.path
    finally:
        stores.close()
    with sqlite3.connect(path) as db:  # an index written by an older MaiRust
        db.execute("PRAGMA user_version = 1")
    EmbeddedCluster(settings).prepare_stores()
    stores = open_stores(settings.storage)
    try:
        assert stores.search.needs_reindex is False
        assert len(stores.search.search(PLATFORM, "quokka")) == 1
    finally:
        stores.close()
