"""The search backlog and accept-time extras of the metadata role, on every backend."""

from __future__ import annotations

from mairust.model.annotations import Annotations
from mairust.model.mailbox import NewEntry
from mairust.model.message import SpoolRecord
from mairust.model.queue import QueueItem
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore


def _stored_entries(store: SqlMetadataStore, make_record, count: int) -> list[str]:
    tenant = store.create_tenant("acme")
    store.add_domain("acme.example", tenant.id)
    mailbox = store.add_mailbox("a@acme.example")
    ids = []
    for _ in range(count):
        record = make_record(mailbox.address)
        store.commit_messages([record])
        entry = store.store_entry(
            NewEntry(tenant.id, mailbox.id, record.ref.id, "s", "f@x", (), None, record.ref.size)
        )
        ids.append(entry.id)
    return ids


def test_backlog_is_durable_ordered_and_idempotent(metadata_store, make_record) -> None:
    ids = _stored_entries(metadata_store, make_record, 3)
    metadata_store.add_to_search_backlog([ids[0], ids[1]])
    metadata_store.add_to_search_backlog([ids[1], ids[2], ids[2]])
    assert metadata_store.search_backlog_size() == 3
    assert set(metadata_store.search_backlog()) == set(ids)
    assert len(metadata_store.search_backlog(limit=2)) == 2
    metadata_store.remove_from_search_backlog([ids[0], "not-there"])
    assert set(metadata_store.search_backlog()) == {ids[1], ids[2]}
    metadata_store.add_to_search_backlog([])
    metadata_store.remove_from_search_backlog([])
    assert metadata_store.search_backlog_size() == 2


def test_auth_results_and_annotations_travel_with_the_message(metadata_store, make_record):
    tenant = metadata_store.create_tenant("acme")
    metadata_store.add_domain("acme.example", tenant.id)
    mailbox = metadata_store.add_mailbox("a@acme.example")
    base = make_record(mailbox.address)
    auth = {"dmarc": {"result": "fail", "from_domain": "bank.example"}, "dkim": []}
    record = SpoolRecord(
        ref=base.ref,
        envelope=base.envelope,
        auth_results=auth,
        annotations=Annotations(folder="Junk", tags=("dmarc-quarantine",)),
    )
    metadata_store.commit_messages([record])
    [item] = metadata_store.lease_batch("w", 10, 60)
    assert isinstance(item, QueueItem)
    assert item.annotations == Annotations("Junk", ("dmarc-quarantine",))
    entry = metadata_store.store_entry(
        NewEntry(tenant.id, mailbox.id, base.ref.id, "s", "f@x", (), None, 1, folder="Junk")
    )
    assert entry.auth_results == auth
    assert metadata_store.get_entry(PLATFORM, entry.id).auth_results == auth
    assert metadata_store.count_entries(PLATFORM) == 1
    assert metadata_store.count_entries(TenantScope("someone-else")) == 0
