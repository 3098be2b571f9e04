"""Contract tests of aliases and catch-alls in the metadata store (every
backend in conftest.METADATA_URLS): scoped reads and deletes, tenant checks in the query,
and the routing lookups."""

from __future__ import annotations

import pytest

from mairust.errors import Conflict, InvalidInput, NotFound
from mairust.model.directory import Mailbox
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore


class Two:
    def __init__(self, store: SqlMetadataStore) -> None:
        self.a = store.create_tenant("a").id
        self.b = store.create_tenant("b").id
        store.add_domain("a.test", self.a)
        store.add_domain("b.test", self.b)
        self.ann: Mailbox = store.add_mailbox("ann@a.test")
        self.amy: Mailbox = store.add_mailbox("amy@a.test")
        self.bob: Mailbox = store.add_mailbox("bob@b.test")


@pytest.fixture
def two(metadata_store: SqlMetadataStore) -> Two:
    return Two(metadata_store)


def test_an_alias_delivers_to_its_targets_once_each(
    metadata_store: SqlMetadataStore, two: Two
) -> None:
    alias = metadata_store.add_alias("Team@A.test", two.a, [two.amy.id, two.ann.id, two.ann.id])
    assert alias.address == "team@a.test"
    assert alias.targets == ("amy@a.test", "ann@a.test")
    assert [m.id for m in metadata_store.alias_targets("team@a.test")] == [two.amy.id, two.ann.id]
    assert metadata_store.alias_targets("nobody@a.test") == []
    listed = metadata_store.list_aliases(TenantScope(two.a), "a.test")
    assert [(a.address, a.targets) for a in listed] == [("team@a.test", alias.targets)]
    assert metadata_store.list_aliases(PLATFORM, "a.test") == listed


def test_another_tenant_sees_and_deletes_nothing(
    metadata_store: SqlMetadataStore, two: Two
) -> None:
    metadata_store.add_alias("team@a.test", two.a, [two.ann.id])
    assert metadata_store.list_aliases(TenantScope(two.b), "a.test") == []
    # A user's scope holds no domain settings, even in its own tenant.
    assert metadata_store.list_aliases(TenantScope(two.a, two.ann.id), "a.test") == []
    with pytest.raises(NotFound):
        metadata_store.delete_alias(TenantScope(two.b), "team@a.test")
    assert len(metadata_store.alias_targets("team@a.test")) == 1
    metadata_store.delete_alias(TenantScope(two.a), "team@a.test")
    assert metadata_store.alias_targets("team@a.test") == []
    with pytest.raises(NotFound):
        metadata_store.delete_alias(TenantScope(two.a), "team@a.test")


def test_an_alias_stays_inside_its_tenant(metadata_store: SqlMetadataStore, two: Two) -> None:
    with pytest.raises(NotFound):  # a target of another tenant
        metadata_store.add_alias("team@a.test", two.a, [two.ann.id, two.bob.id])
    with pytest.raises(NotFound):  # a domain of another tenant
        metadata_store.add_alias("team@b.test", two.a, [two.ann.id])
    with pytest.raises(InvalidInput):
        metadata_store.add_alias("team@a.test", two.a, [])
    assert metadata_store.list_aliases(PLATFORM, "a.test") == []


def test_an_alias_cannot_take_a_used_address(metadata_store: SqlMetadataStore, two: Two) -> None:
    with pytest.raises(Conflict):
        metadata_store.add_alias("ann@a.test", two.a, [two.amy.id])
    metadata_store.add_alias("team@a.test", two.a, [two.amy.id])
    with pytest.raises(Conflict):
        metadata_store.add_alias("team@a.test", two.a, [two.ann.id])
    assert metadata_store.list_aliases(PLATFORM, "a.test")[0].targets == ("amy@a.test",)


def test_a_catchall_is_set_replaced_and_cleared_in_its_tenant(
    metadata_store: SqlMetadataStore, two: Two
) -> None:
    assert metadata_store.catchall_mailbox("a.test") is None
    metadata_store.set_catchall("a.test", two.a, two.ann.id)
    assert metadata_store.catchall_mailbox("a.test") == two.ann
    metadata_store.set_catchall("a.test", two.a, two.amy.id)
    assert metadata_store.catchall_mailbox("a.test") == two.amy
    got = metadata_store.get_catchall(TenantScope(two.a), "a.test")
    assert got is not None and got.mailbox_address == "amy@a.test"
    assert metadata_store.get_catchall(TenantScope(two.b), "a.test") is None
    with pytest.raises(NotFound):
        metadata_store.set_catchall("a.test", two.a, two.bob.id)
    with pytest.raises(NotFound):
        metadata_store.set_catchall("b.test", two.a, two.ann.id)
    with pytest.raises(NotFound):
        metadata_store.clear_catchall(TenantScope(two.b), "a.test")
    assert metadata_store.catchall_mailbox("a.test") == two.amy
    metadata_store.clear_catchall(TenantScope(two.a), "a.test")
    assert metadata_store.catchall_mailbox("a.test") is None
    with pytest.raises(NotFound):
        metadata_store.clear_catchall(TenantScope(two.a), "a.test")
