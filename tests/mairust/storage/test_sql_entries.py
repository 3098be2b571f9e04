"""Listing filters and flags of mailbox entries on every backend of
conftest.METADATA_URLS (storing, scoping and cursors are in test_sql_metadata)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mairust.errors import InvalidInput, NotFound
from mairust.model.mailbox import MailboxEntry
from mairust.model.scope import PLATFORM, Scope, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.query_plans import plan_of_ordered_select, sorts
from tests.support.stored_entries import deliver, tenant_with_mailboxes

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _ids(found: list[MailboxEntry]) -> set[str]:
    return {entry.id for entry in found}


def _auth(spf: str, dkim: list[str], dmarc: str | None) -> dict[str, Any]:
    """AuthResults.to_json() as the spool commits it."""
    return {
        "spf": {"result": spf, "identity": "mailfrom", "domain": "x.test", "client_ip": "1.2.3.4"},
        "helo": None,
        "dkim": [{"result": word, "domain": "x.test"} for word in dkim],
        "dmarc": None if dmarc is None else {"result": dmarc, "from_domain": "x.test"},
        "arc": None,
    }


def test_filter_by_sender_address_or_domain(metadata_store: SqlMetadataStore) -> None:
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    jane = deliver(metadata_store, box, from_addr="jane@news.example")
    joe = deliver(metadata_store, box, from_addr="joe@news.example")
    deliver(metadata_store, box, from_addr="jane@newsXexample")
    deliver(metadata_store, box, from_addr="jane@other.example")
    scope = TenantScope(tenant.id)
    assert _ids(metadata_store.list_entries(scope, from_addr=" Jane@News.Example ")) == {jane.id}
    assert _ids(metadata_store.list_entries(scope, from_addr="@NEWS.example")) == {jane.id, joe.id}
    assert metadata_store.list_entries(scope, from_addr="nobody@news.example") == []


def test_filter_by_tag_matches_whole_tags_only(metadata_store: SqlMetadataStore) -> None:
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    work = deliver(metadata_store, box, tags=("work", "urgent"))
    later = deliver(metadata_store, box, tags=("x", "work"))
    deliver(metadata_store, box, tags=("workshop", "Work", 'a"work', "network"))
    quoted = deliver(metadata_store, box, tags=('say "hi"', "ünïcode"))
    deliver(metadata_store, box)
    scope = TenantScope(tenant.id)
    assert _ids(metadata_store.list_entries(scope, tag="work")) == {work.id, later.id}
    assert _ids(metadata_store.list_entries(scope, tag="urgent")) == {work.id}
    assert _ids(metadata_store.list_entries(scope, tag='say "hi"')) == {quoted.id}
    assert _ids(metadata_store.list_entries(scope, tag="ünïcode")) == {quoted.id}
    assert metadata_store.list_entries(scope, tag="hi") == []
    # A tag added later is found too.
    metadata_store.set_tags(scope, quoted.id, add=["work"], remove=[])
    assert _ids(metadata_store.list_entries(scope, tag="work")) == {work.id, later.id, quoted.id}


def test_filter_by_received_range_is_half_open(metadata_store: SqlMetadataStore) -> None:
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    found = [
        deliver(metadata_store, box, received_at=T0 + timedelta(hours=hour)) for hour in range(5)
    ]
    scope = TenantScope(tenant.id)
    window = metadata_store.list_entries(
        scope, received_after=T0 + timedelta(hours=1), received_before=T0 + timedelta(hours=3)
    )
    assert [e.id for e in window] == [found[2].id, found[1].id]
    since = metadata_store.list_entries(scope, received_after=T0 + timedelta(hours=4))
    assert [e.id for e in since] == [found[4].id]


def test_flags_and_unread_filter(metadata_store: SqlMetadataStore) -> None:
    tenant, [alice, bob] = tenant_with_mailboxes(metadata_store, "acme", "alice", "bob")
    other, _ = tenant_with_mailboxes(metadata_store, "beta", "carol")
    read, unread = deliver(metadata_store, alice), deliver(metadata_store, alice)
    assert (read.seen, read.flagged) == (False, False)
    scope = TenantScope(tenant.id)
    marked = metadata_store.set_flags(scope, read.id, seen=True)
    assert (marked.seen, marked.flagged) == (True, False)
    starred = metadata_store.set_flags(TenantScope(tenant.id, alice.id), read.id, flagged=True)
    assert (starred.seen, starred.flagged) == (True, True)
    assert metadata_store.set_flags(scope, read.id) == starred  # nothing asked, nothing changes
    assert _ids(metadata_store.list_entries(scope, unread=True)) == {unread.id}
    assert _ids(metadata_store.list_entries(scope, unread=False)) == {read.id}
    assert _ids(metadata_store.list_entries(scope, flagged=True)) == {read.id}
    assert _ids(metadata_store.list_entries(scope, flagged=False, unread=True)) == {unread.id}
    for outsider in (TenantScope(other.id), TenantScope(tenant.id, bob.id)):
        with pytest.raises(NotFound):
            metadata_store.set_flags(outsider, unread.id, seen=True)
        with pytest.raises(NotFound):
            metadata_store.set_flags(outsider, unread.id)
    assert metadata_store.get_entry(PLATFORM, unread.id).seen is False


def test_filter_by_authentication_words(metadata_store: SqlMetadataStore) -> None:
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    good = deliver(metadata_store, box, auth_results=_auth("pass", ["fail", "pass"], "pass"))
    bad = deliver(metadata_store, box, auth_results=_auth("softfail", ["fail"], "fail"))
    unchecked = deliver(metadata_store, box)
    scope = TenantScope(tenant.id)
    assert _ids(metadata_store.list_entries(scope, auth={"dmarc": "fail"})) == {bad.id}
    assert _ids(metadata_store.list_entries(scope, auth={"dkim": "pass"})) == {good.id}
    assert _ids(metadata_store.list_entries(scope, auth={"spf": " PASS "})) == {good.id}
    both = metadata_store.list_entries(scope, auth={"spf": "softfail", "dkim": "fail"})
    assert _ids(both) == {bad.id}
    assert metadata_store.list_entries(scope, auth={"arc": "pass"}) == []
    assert unchecked.id in _ids(metadata_store.list_entries(scope))
    with pytest.raises(InvalidInput):
        metadata_store.list_entries(scope, auth={"dmarcc": "fail"})


def test_filters_combine_with_the_cursor(metadata_store: SqlMetadataStore) -> None:
    tenant, [alice, bob] = tenant_with_mailboxes(metadata_store, "acme", "alice", "bob")
    wanted = [
        deliver(metadata_store, alice, tags=("t",), received_at=T0 + timedelta(minutes=i))
        for i in range(5)
    ]
    deliver(metadata_store, alice, received_at=T0 + timedelta(minutes=10))
    deliver(metadata_store, bob, tags=("t",), received_at=T0 + timedelta(minutes=11))
    scope = TenantScope(tenant.id)
    pages: list[list[str]] = []
    cursor: str | None = None
    while page := metadata_store.list_entries(scope, alice.id, limit=2, before=cursor, tag="t"):
        pages.append([e.id for e in page])
        cursor = page[-1].id
    assert pages == [[wanted[4].id, wanted[3].id], [wanted[2].id, wanted[1].id], [wanted[0].id]]


def test_a_cursor_pages_through_equal_times_by_id_and_only_inside_the_scope(
    metadata_store: SqlMetadataStore,
) -> None:
    """The cursor's time is read in the listing's own statement: ties at one time are
    broken by id, the last page ends in an empty one, and a cursor the scope cannot see is
    NotFound (not an empty page), whatever the listing holds."""
    tenant, [alice] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    other, [carol] = tenant_with_mailboxes(metadata_store, "beta", "carol")
    same_time = [deliver(metadata_store, alice, received_at=T0) for _ in range(4)]
    foreign = deliver(metadata_store, carol, received_at=T0 + timedelta(minutes=1))
    scope = TenantScope(tenant.id)
    seen: list[str] = []
    cursor: str | None = None
    while page := metadata_store.list_entries(scope, alice.id, limit=3, before=cursor):
        seen += [e.id for e in page]
        cursor = page[-1].id
    assert seen == sorted((e.id for e in same_time), reverse=True)
    assert metadata_store.list_entries(scope, alice.id, before=seen[-1]) == []
    for outsider_cursor in (foreign.id, "no-such-entry"):
        with pytest.raises(NotFound):
            metadata_store.list_entries(scope, before=outsider_cursor)
    assert _ids(metadata_store.list_entries(TenantScope(other.id), before=foreign.id)) == set()


@pytest.mark.parametrize("scope_kind", ["platform", "tenant", "mailbox"])
@pytest.mark.parametrize("with_cursor", [False, True], ids=["first page", "after a cursor"])
def test_a_page_is_read_newest_first_from_an_index_not_sorted(
    metadata_store: SqlMetadataStore, scope_kind: str, with_cursor: bool
) -> None:
    """Each scope's listing has an index in its order: no sort of every entry it could
    match per page (the platform's had none before 0033)."""
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    entries = [
        deliver(metadata_store, box, received_at=T0 + timedelta(minutes=i)) for i in range(3)
    ]
    scopes: dict[str, tuple[Scope, str | None]] = {
        "platform": (PLATFORM, None),
        "tenant": (TenantScope(tenant.id), None),
        "mailbox": (TenantScope(tenant.id), box.id),
    }
    scope, mailbox_id = scopes[scope_kind]
    cursor = entries[-1].id if with_cursor else None
    plan = plan_of_ordered_select(
        metadata_store.engine, lambda: metadata_store.list_entries(scope, mailbox_id, before=cursor)
    )
    assert plan and not sorts(plan), plan
