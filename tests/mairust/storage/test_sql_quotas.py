"""Mailbox quotas in the SQL store: limits set through a scope, and a usage counter that
moves with the entries in their own transaction (on every backend of METADATA_URLS)."""

from __future__ import annotations

import pytest

from mairust.errors import InvalidInput, NotFound
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_quotas import add_usage
from tests.support.stored_entries import new_entry, spooled, tenant_with_mailboxes


def test_a_new_mailbox_has_the_default_quota_and_uses_nothing(
    metadata_store: SqlMetadataStore,
) -> None:
    _, [alice] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    assert (alice.quota_bytes, alice.used_bytes) == (None, 0)
    found = metadata_store.find_mailbox(alice.address)
    assert found is not None and (found.quota_bytes, found.used_bytes) == (None, 0)


def test_storing_entries_counts_their_sizes_once(metadata_store: SqlMetadataStore) -> None:
    _, [alice, amos] = tenant_with_mailboxes(metadata_store, "acme", "alice", "amos")
    first = new_entry(alice, spooled(metadata_store, alice), size=1000)
    second = new_entry(alice, spooled(metadata_store, alice), size=234)
    other = new_entry(amos, spooled(metadata_store, amos), size=7)
    metadata_store.store_entries([first, second, other])
    # The same entries again (a batch run twice) are not counted twice.
    metadata_store.store_entries([first, second])
    metadata_store.store_entry(first)
    assert metadata_store.get_mailbox(PLATFORM, alice.id).used_bytes == 1234
    assert metadata_store.get_mailbox(PLATFORM, amos.id).used_bytes == 7


def test_an_entry_that_crosses_the_quota_is_stored_and_counted(
    metadata_store: SqlMetadataStore,
) -> None:
    # The quota is checked before the 250; what was accepted is always stored.
    _, [alice] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    metadata_store.set_mailbox_quota(PLATFORM, alice.id, 100)
    metadata_store.store_entry(new_entry(alice, spooled(metadata_store, alice), size=5000))
    assert metadata_store.get_mailbox(PLATFORM, alice.id).used_bytes == 5000


def test_set_quota_reaches_the_mailbox_through_its_tenant(
    metadata_store: SqlMetadataStore,
) -> None:
    acme, [alice] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    beta, [bob] = tenant_with_mailboxes(metadata_store, "beta", "bob")
    updated = metadata_store.set_mailbox_quota(TenantScope(acme.id), alice.id, 4096)
    assert (updated.id, updated.quota_bytes) == (alice.id, 4096)
    with pytest.raises(NotFound):
        metadata_store.set_mailbox_quota(TenantScope(acme.id), bob.id, 1)
    with pytest.raises(NotFound):
        metadata_store.set_mailbox_quota(TenantScope(beta.id), "no-such-mailbox", 1)
    # A user's scope holds only their own mailbox.
    with pytest.raises(NotFound):
        metadata_store.set_mailbox_quota(TenantScope(beta.id, "someone-else"), bob.id, 1)
    assert metadata_store.get_mailbox(PLATFORM, bob.id).quota_bytes is None
    back = metadata_store.set_mailbox_quota(PLATFORM, alice.id, None)
    assert back.quota_bytes is None


def test_a_negative_quota_is_invalid(metadata_store: SqlMetadataStore) -> None:
    _, [alice] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    with pytest.raises(InvalidInput):
        metadata_store.set_mailbox_quota(PLATFORM, alice.id, -1)


def test_add_usage_moves_counters_and_never_below_zero(
    metadata_store: SqlMetadataStore,
) -> None:
    _, [alice, amos] = tenant_with_mailboxes(metadata_store, "acme", "alice", "amos")
    metadata_store.store_entry(new_entry(alice, spooled(metadata_store, alice), size=300))
    with metadata_store._db.write() as conn:  # as a purge does, inside its transaction
        add_usage(conn, {alice.id: -100, amos.id: -5})
    assert metadata_store.get_mailbox(PLATFORM, alice.id).used_bytes == 200
    assert metadata_store.get_mailbox(PLATFORM, amos.id).used_bytes == 0
