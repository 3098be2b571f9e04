"""Search finds only what the caller's scope holds, even when the index says otherwise."""

from __future__ import annotations

import pytest

from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from tests.mairust.api.conftest import MailSeeder
from tests.mairust.services.conftest import ADMIN


def principal(tenant_id: str, mailbox_id: str | None, *permissions: Permission) -> Principal:
    role = Role.USER if mailbox_id else Role.TENANT_ADMIN
    return Principal(role, TenantScope(tenant_id, mailbox_id), frozenset(permissions), "p", "x")


def test_a_user_finds_only_its_own_mailbox(application, stores, tenants):
    seeder = MailSeeder(stores)
    mine = seeder.deliver(tenants.alice, seeder.message(subject="walrus", to="alice@a.example"))
    seeder.deliver(tenants.amos, seeder.message(subject="walrus", to="amos@a.example"))
    seeder.deliver(tenants.bob, seeder.message(subject="walrus", to="bob@b.example"))
    alice = principal(tenants.a.id, tenants.alice.id, Permission.READ)
    page = application.search.search(alice, "walrus")
    assert [hit.entry.id for hit in page.found] == [mine.id]
    assert not page.full
    assert len(application.search.search(ADMIN, "walrus").found) == 3
    admin_a = principal(tenants.a.id, None, Permission.READ)
    assert len(application.search.search(admin_a, "walrus").found) == 2
    with pytest.raises(NotFound):  # a mailbox outside the scope, as if missing
        application.search.search(alice, "walrus", mailbox_id=tenants.amos.id)


def test_search_needs_read_and_a_query(application, tenants):
    with pytest.raises(Forbidden):
        application.search.search(principal(tenants.a.id, None, Permission.WRITE), "x")
    with pytest.raises(InvalidInput):
        application.search.search(ADMIN, "   ")
