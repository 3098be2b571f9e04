"""Folders and purges on every backend of conftest.METADATA_URLS: counts, create, rename
and delete through the scope; a purge's transaction (entries, links, backlog, messages
nothing needs) and the blob keys it frees; Trash and Junk entries past a cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import Conflict, NotFound
from mairust.model.folders import FolderCount
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.stored_entries import deliver, tenant_with_mailboxes

T0 = datetime.now(UTC)


def settle_queue(store: SqlMetadataStore) -> None:
    """Every queue row done, as after delivery."""
    leased = store.lease_batch("test", 1000, 60)
    store.ack([item.id for item in leased], "test")


def test_counts_create_rename_delete(metadata_store: SqlMetadataStore) -> None:
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    scope = TenantScope(tenant.id, box.id)
    first = deliver(metadata_store, box, folder="INBOX")
    deliver(metadata_store, box, folder="INBOX")
    deliver(metadata_store, box, folder="Old")
    metadata_store.set_flags(scope, first.id, seen=True)
    metadata_store.create_folder(scope, box.id, "Empty")
    with pytest.raises(Conflict):
        metadata_store.create_folder(scope, box.id, "Old")
    assert metadata_store.folder_counts(scope, box.id) == [
        FolderCount("Empty", 0, 0),
        FolderCount("INBOX", 2, 1),
        FolderCount("Old", 1, 1),
    ]
    moved = metadata_store.rename_folder(scope, box.id, "Old", "New")
    assert len(moved) == 1
    assert metadata_store.get_entry(scope, moved[0]).folder == "New"
    with pytest.raises(Conflict):
        metadata_store.rename_folder(scope, box.id, "New", "INBOX")
    with pytest.raises(NotFound):
        metadata_store.rename_folder(scope, box.id, "Old", "Older")
    with pytest.raises(Conflict):
        metadata_store.delete_folder(scope, box.id, "New")
    metadata_store.delete_folder(scope, box.id, "Empty")
    names = [folder.name for folder in metadata_store.folder_counts(scope, box.id)]
    assert names == ["INBOX", "New"]


def test_another_tenant_or_mailbox_is_not_found(metadata_store: SqlMetadataStore) -> None:
    tenant, [box, other_box] = tenant_with_mailboxes(metadata_store, "acme", "alice", "amos")
    stranger, _ = tenant_with_mailboxes(metadata_store, "evil", "eve")
    deliver(metadata_store, box, folder="Old")
    for scope in (TenantScope(stranger.id), TenantScope(tenant.id, other_box.id)):
        with pytest.raises(NotFound):
            metadata_store.folder_counts(scope, box.id)
        with pytest.raises(NotFound):
            metadata_store.create_folder(scope, box.id, "X")
        with pytest.raises(NotFound):
            metadata_store.rename_folder(scope, box.id, "Old", "X")
        with pytest.raises(NotFound):
            metadata_store.delete_folder(scope, box.id, "Old")
    assert [f.name for f in metadata_store.folder_counts(TenantScope(tenant.id), box.id)] == ["Old"]


def test_purge_removes_entries_links_backlog_and_unneeded_messages(
    metadata_store: SqlMetadataStore,
) -> None:
    tenant, [box, other_box] = tenant_with_mailboxes(metadata_store, "acme", "alice", "amos")
    stranger, _ = tenant_with_mailboxes(metadata_store, "evil", "eve")
    alone = deliver(metadata_store, box, "<a@x.test>", folder="Trash")
    reply = deliver(metadata_store, box, "<b@x.test>", ["<a@x.test>"], folder="Trash")
    inbox = deliver(metadata_store, box, folder="INBOX")
    pending = deliver(metadata_store, other_box, folder="Trash")
    settle_queue(metadata_store)
    queued_later = deliver(metadata_store, other_box, folder="Trash")  # its queue row is live
    metadata_store.add_to_search_backlog([alone.id])
    assert metadata_store.purge_entries(TenantScope(stranger.id), [alone.id]).entry_ids == ()
    assert (
        metadata_store.purge_entries(TenantScope(tenant.id, box.id), [pending.id]).entry_ids == ()
    )
    assert metadata_store.purge_entries(PLATFORM, [inbox.id], folder="Trash").entry_ids == ()
    purged = metadata_store.purge_entries(
        TenantScope(tenant.id), [alone.id, reply.id, queued_later.id], folder="Trash"
    )
    assert sorted(purged.entry_ids) == sorted([alone.id, reply.id, queued_later.id])
    assert sorted(purged.blob_keys) == sorted([alone.blob_key, reply.blob_key])
    assert metadata_store.get_entries(PLATFORM, [alone.id, reply.id, inbox.id]) == [
        metadata_store.get_entry(PLATFORM, inbox.id)
    ]
    assert metadata_store.search_backlog() == []
    assert metadata_store.referenced_blob_keys([alone.blob_key, queued_later.blob_key]) == {
        queued_later.blob_key
    }
    # The thread links went with their entries: a new reply to <a> starts its own thread.
    late = deliver(metadata_store, box, "<c@x.test>", ["<a@x.test>"])
    assert [e.id for e in metadata_store.thread_of(PLATFORM, late.id)] == [late.id]


def test_expired_entries_count_from_the_move_then_from_arrival(
    metadata_store: SqlMetadataStore,
) -> None:
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    old_junk = deliver(metadata_store, box, folder="Junk", received_at=T0 - timedelta(days=40))
    deliver(metadata_store, box, folder="Junk", received_at=T0)  # too young
    old_inbox = deliver(metadata_store, box, received_at=T0 - timedelta(days=400))
    deleted_now = deliver(metadata_store, box, received_at=T0 - timedelta(days=400))
    moved = metadata_store.move_entry(TenantScope(tenant.id), deleted_now.id, "Trash")
    assert moved.folder == "Trash"
    cutoff = datetime.now(UTC) - timedelta(days=30)
    assert metadata_store.expired_entry_ids("Junk", cutoff) == [old_junk.id]
    assert metadata_store.expired_entry_ids("Trash", cutoff) == []
    assert metadata_store.expired_entry_ids("Trash", datetime.now(UTC) + timedelta(days=1)) == [
        deleted_now.id
    ]
    assert metadata_store.expired_entry_ids("Junk", T0) == [old_junk.id]  # not the young one
    assert old_inbox.id not in metadata_store.expired_entry_ids("Trash", T0)  # only Trash
    # Moving to the same folder again does not restart the clock.
    metadata_store.move_entry(PLATFORM, deleted_now.id, "Trash")
    assert metadata_store.expired_entry_ids("Trash", datetime.now(UTC) + timedelta(days=1)) == [
        deleted_now.id
    ]


def test_purge_gives_the_bytes_back_to_the_quota(metadata_store: SqlMetadataStore) -> None:
    tenant, [box, other_box] = tenant_with_mailboxes(metadata_store, "acme", "alice", "amos")
    first = deliver(metadata_store, box, folder="Trash")
    deliver(metadata_store, box, folder="INBOX")
    kept = deliver(metadata_store, other_box, folder="Trash")
    before = metadata_store.get_mailbox(PLATFORM, box.id).used_bytes
    assert before > first.size > 0
    metadata_store.purge_entries(TenantScope(tenant.id), [first.id], folder="Trash")
    assert metadata_store.get_mailbox(PLATFORM, box.id).used_bytes == before - first.size
    assert metadata_store.get_mailbox(PLATFORM, other_box.id).used_bytes == kept.size
