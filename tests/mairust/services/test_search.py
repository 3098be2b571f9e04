"""Search finds only what the caller's scope holds, even when the index says otherwise,
and pages by cursors sealed to the search that made them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.mailbox import SearchDocument
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.services.application import Application
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import MailSeeder
from tests.mairust.services.conftest import ADMIN, Tenants


def principal(tenant_id: str, mailbox_id: str | None, *permissions: Permission) -> Principal:
    role = Role.USER if mailbox_id else Role.TENANT_ADMIN
    return Principal(role, TenantScope(tenant_id, mailbox_id), frozenset(permissions), "p", "x")


def walk(application: Application, who: Principal, q: str, limit: int, **kw: object) -> list[str]:
    """The entry ids of every page of one search, following ``next``."""
    seen: list[str] = []
    after: str | None = None
    for _ in range(100):
        page = application.search.search(who, q, limit=limit, after=after, **kw)  # type: ignore[arg-type]
        seen.extend(hit.entry.id for hit in page.found)
        if page.next is None:
            return seen
        after = page.next
    raise AssertionError("the pages never end")


def test_a_user_finds_only_its_own_mailbox(application, stores, tenants):
    seeder = MailSeeder(stores)
    mine = seeder.deliver(tenants.alice, seeder.message(subject="walrus", to="alice@a.example"))
    seeder.deliver(tenants.amos, seeder.message(subject="walrus", to="amos@a.example"))
    seeder.deliver(tenants.bob, seeder.message(subject="walrus", to="bob@b.example"))
    alice = principal(tenants.a.id, tenants.alice.id, Permission.READ)
    page = application.search.search(alice, "walrus")
    assert [hit.entry.id for hit in page.found] == [mine.id]
    assert page.next is None
    assert len(application.search.search(ADMIN, "walrus").found) == 3
    admin_a = principal(tenants.a.id, None, Permission.READ)
    assert len(application.search.search(admin_a, "walrus").found) == 2
    with pytest.raises(NotFound):  # a mailbox outside the scope, as if missing
        application.search.search(alice, "walrus", mailbox_id=tenants.amos.id)


def test_a_mailbox_outside_the_scope_is_not_found_even_before_a_bad_cursor(
    application, stores, tenants
):
    """The mailbox is looked up only when a page shows nothing or its cursor is refused;
    the answers are those of a lookup first."""
    seeder = MailSeeder(stores)
    seeder.deliver(tenants.alice, seeder.message(subject="walrus", to="alice@a.example"))
    seeder.deliver(tenants.bob, seeder.message(subject="walrus", to="bob@b.example"))
    admin_a = principal(tenants.a.id, None, Permission.READ)
    assert len(application.search.search(admin_a, "walrus", mailbox_id=tenants.alice.id).found)
    assert application.search.search(admin_a, "walrus", mailbox_id=tenants.amos.id).found == []
    assert application.search.search(admin_a, "narwhal", mailbox_id=tenants.alice.id).found == []
    for mailbox_id in (tenants.bob.id, "no-such-mailbox"):
        for after in (None, "not-a-cursor"):
            with pytest.raises(NotFound):
                application.search.search(admin_a, "walrus", mailbox_id=mailbox_id, after=after)
    with pytest.raises(InvalidInput):
        application.search.search(admin_a, "walrus", mailbox_id=tenants.alice.id, after="x")


def test_search_needs_read_and_a_query(application, tenants):
    with pytest.raises(Forbidden):
        application.search.search(principal(tenants.a.id, None, Permission.WRITE), "x")
    with pytest.raises(InvalidInput):
        application.search.search(ADMIN, "   ")
    with pytest.raises(InvalidInput):
        application.search.search(ADMIN, "x", limit=0)


def _equal_hits(stores: Stores, tenants: Tenants, count: int) -> list[str]:
    """``count`` equal messages to alice, received at one instant: equal scores, equal
    times, so only the entry id orders them."""
    seeder = MailSeeder(stores)
    raw = seeder.message(subject="walrus report", to="alice@a.example")
    when = datetime(2026, 2, 1, tzinfo=UTC)
    return [seeder.deliver(tenants.alice, raw, received_at=when).id for _ in range(count)]


def test_pages_follow_next_and_show_every_hit_once_in_order(application, stores, tenants):
    ids = _equal_hits(stores, tenants, 23)
    alice = principal(tenants.a.id, tenants.alice.id, Permission.READ)
    whole = [hit.entry.id for hit in application.search.search(alice, "walrus", limit=500).found]
    assert sorted(whole) == sorted(ids)
    for limit in (1, 4, 22, 23):
        assert walk(application, alice, "walrus", limit) == whole, limit
    # the last page says it is the last: no empty page behind a full one
    assert application.search.search(alice, "walrus", limit=23).next is None
    assert application.search.search(alice, "walrus", limit=22).next is not None
    assert whole == sorted(ids)  # ties broken by entry id
    assert walk(application, ADMIN, "folder:INBOX", 5, mailbox_id=tenants.alice.id) == whole


def test_a_stale_index_hit_is_left_out_and_paging_goes_on(application, stores, tenants):
    ids = _equal_hits(stores, tenants, 6)
    # the index holds a document whose entry the metadata store does not (invariant 5)
    stores.search.index(
        [
            SearchDocument(
                entry_id=sorted(ids)[2] + "-ghost",
                tenant_id=tenants.a.id,
                mailbox_id=tenants.alice.id,
                subject="walrus report",
                from_addr="x@remote.example",
                to_addrs=("alice@a.example",),
                body="",
                received_at=datetime(2026, 2, 1, tzinfo=UTC),
            )
        ]
    )
    admin_a = principal(tenants.a.id, None, Permission.READ)
    assert len(stores.search.search(admin_a.scope, "walrus")) == 7
    for limit in (1, 2, 3):
        assert walk(application, admin_a, "walrus", limit) == sorted(ids)


def test_a_cursor_of_another_search_or_scope_is_invalid(application, stores, tenants):
    _equal_hits(stores, tenants, 4)
    seeder = MailSeeder(stores)
    seeder.deliver(tenants.bob, seeder.message(subject="walrus report", to="bob@b.example"))
    alice = principal(tenants.a.id, tenants.alice.id, Permission.READ)
    admin_a = principal(tenants.a.id, None, Permission.READ)
    admin_b = principal(tenants.b.id, None, Permission.READ)
    cursor = application.search.search(alice, "walrus", limit=1).next
    assert cursor is not None
    assert len(application.search.search(alice, "walrus", limit=1, after=cursor).found) == 1
    refused = [
        (alice, "report", None),  # another query
        (alice, "walrus tag:x", None),  # another filter
        (alice, "walrus", tenants.alice.id),  # another mailbox argument
        (admin_a, "walrus", None),  # a wider scope of the same tenant
        (admin_b, "walrus", None),  # another tenant
        (principal(tenants.a.id, tenants.amos.id, Permission.READ), "walrus", None),
        (ADMIN, "walrus", None),
    ]
    for who, q, mailbox_id in refused:
        with pytest.raises(InvalidInput, match="not one of this search"):
            application.search.search(who, q, mailbox_id=mailbox_id, after=cursor)
    # another tenant's token never gets a page of the cursor's owner, nor of its own
    head, payload, mac = cursor.split(".")
    altered = [
        "",
        "x",
        "s1..",
        head + "." + payload + "." + mac[:-2],
        head + "." + payload[:-2] + "AA." + mac,
        "s2." + payload + "." + mac,
        head + "." + payload + "." + "A" * len(mac),
        head + "." + payload + "." + "!!!!",
        head + "." + "é" + "." + mac,
        cursor + ".",
    ]
    for bad in altered:
        with pytest.raises(InvalidInput):
            application.search.search(alice, "walrus", after=bad)
