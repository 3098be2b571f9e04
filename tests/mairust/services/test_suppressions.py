"""SuppressionService: the list through the caller's scope (a tenant admin's own tenant;
the operator names one), each change audited, and the refusal sending makes."""

from __future__ import annotations

import pytest

from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.principal import ALL_PERMISSIONS, Permission, Principal, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.suppression import SuppressionReason
from mairust.services.application import Application
from mairust.services.suppressions import RecipientsSuppressed
from tests.mairust.services.conftest import ADMIN, Tenants


def admin_of(tenant_id: str, permissions: frozenset[Permission] = ALL_PERMISSIONS) -> Principal:
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), permissions, "t")


def test_a_tenant_admin_keeps_its_own_list_and_every_change_is_audited(
    application: Application, tenants: Tenants
) -> None:
    service = application.suppressions
    a = admin_of(tenants.a.id)
    assert service.add(a, ["Joe@Far.example", "joe@far.example"]).added == 1
    service.add(admin_of(tenants.b.id), ["kim@far.example"])

    assert [e.address for e in service.entries(a)] == ["joe@far.example"]
    with pytest.raises(NotFound):
        service.entries(a, tenants.b.id)  # another tenant's: as a missing one
    with pytest.raises(NotFound):
        service.remove(a, "kim@far.example")
    service.remove(a, "JOE@far.example")
    assert service.entries(a) == []
    actions = [r.action for r in application.audit.page(ADMIN, limit=10)]
    assert actions.count("suppression.add") == 2 and "suppression.remove" in actions


def test_the_operator_names_the_tenant_and_sees_every_list(
    application: Application, tenants: Tenants
) -> None:
    service = application.suppressions
    with pytest.raises(InvalidInput):
        service.add(ADMIN, ["x@far.example"])
    service.add(ADMIN, ["x@far.example"], tenants.b.id, SuppressionReason.UNSUBSCRIBE)
    service.add(ADMIN, ["y@far.example"], tenants.a.id)
    assert {(e.tenant_id, e.reason) for e in service.entries(ADMIN)} == {
        (tenants.b.id, SuppressionReason.UNSUBSCRIBE),
        (tenants.a.id, SuppressionReason.MANUAL),
    }
    assert ADMIN.scope == PLATFORM


def test_refusals_name_each_suppressed_recipient_and_its_reason(
    application: Application, tenants: Tenants
) -> None:
    service = application.suppressions
    service.add(ADMIN, ["gone@far.example"], tenants.a.id, SuppressionReason.HARD_BOUNCE)
    with pytest.raises(RecipientsSuppressed) as caught:
        service.refuse_suppressed(tenants.a.id, ["Gone@Far.example", "ok@far.example"])
    assert set(caught.value.suppressed) == {"Gone@Far.example"}
    assert "Gone@Far.example (hard_bounce)" in str(caught.value)
    service.refuse_suppressed(tenants.b.id, ["gone@far.example"])  # not B's: no refusal


def test_a_bad_address_refuses_the_whole_call_and_users_are_refused(
    application: Application, tenants: Tenants
) -> None:
    service = application.suppressions
    with pytest.raises(InvalidInput, match="not an address"):
        service.add(admin_of(tenants.a.id), ["ok@far.example", "no at sign"])
    assert service.entries(admin_of(tenants.a.id)) == []
    user = Principal(Role.USER, TenantScope(tenants.a.id, tenants.alice.id), ALL_PERMISSIONS, "u")
    with pytest.raises(Forbidden):
        service.entries(user)
    with pytest.raises(Forbidden):
        service.add(admin_of(tenants.a.id, frozenset({Permission.READ})), ["x@far.example"])
