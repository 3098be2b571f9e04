"""The audit trail: records who did what from where; read in scope by admins only."""

from __future__ import annotations

import pytest

from mairust.errors import Forbidden, InvalidInput
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from tests.mairust.services.conftest import ADMIN


def test_records_carry_actor_role_source_and_time_newest_first(application, tenants, clock):
    first = application.audit.record(ADMIN, "tenant.create", "a", tenants.a.id, {"k": "v"})
    clock.advance(seconds=1)
    second = application.audit.record(ADMIN, "tenant.create", "b", tenants.b.id)
    page = application.audit.page(ADMIN)
    assert [r.id for r in page] == [second.id, first.id]
    assert (first.actor, first.role, first.source, first.at) == (
        "test-admin",
        Role.ADMIN,
        "127.0.0.1",
        clock.now.replace(second=clock.now.second - 1),
    )
    assert page[1].details == {"k": "v"}
    assert [r.id for r in application.audit.page(ADMIN, limit=1, before=second.id)] == [first.id]


def test_a_tenant_admin_reads_only_its_tenant_and_a_user_nothing(application, tenants):
    application.audit.record(ADMIN, "x", "a", tenants.a.id)
    application.audit.record(ADMIN, "x", "b", tenants.b.id)
    application.audit.record(ADMIN, "x", "platform", None)
    admin_a = Principal(
        Role.TENANT_ADMIN, TenantScope(tenants.a.id), frozenset(Permission), "ta", "x"
    )
    assert [r.target for r in application.audit.page(admin_a)] == ["a"]
    alice = Principal(
        Role.USER, TenantScope(tenants.a.id, tenants.alice.id), frozenset(Permission), "u", "x"
    )
    with pytest.raises(Forbidden):
        application.audit.page(alice)


def test_a_cursor_of_another_tenant_is_bad_input_like_an_unknown_one(application, tenants):
    foreign = application.audit.record(ADMIN, "x", "b", tenants.b.id)
    admin_a = Principal(
        Role.TENANT_ADMIN, TenantScope(tenants.a.id), frozenset(Permission), "ta", "x"
    )
    with pytest.raises(InvalidInput) as foreign_cursor:
        application.audit.page(admin_a, before=foreign.id)
    with pytest.raises(InvalidInput) as unknown_cursor:
        application.audit.page(admin_a, before="01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert str(foreign_cursor.value) == str(unknown_cursor.value)
