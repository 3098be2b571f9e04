"""QuotaService: a tenant admin sets quotas in their own tenant only, anyone reads the
usage of what their scope holds, every change is audited."""

from __future__ import annotations

import pytest

from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.principal import ALL_PERMISSIONS, Permission, Principal, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.services.application import Application
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import ADMIN, Tenants
from tests.support.stored_entries import deliver


def _tenant_admin(tenant_id: str) -> Principal:
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), ALL_PERMISSIONS, "token:ta")


def test_a_tenant_admin_sets_a_quota_in_their_tenant(
    application: Application, tenants: Tenants, stores: Stores
) -> None:
    usage = application.quotas.set_quota(_tenant_admin(tenants.a.id), tenants.alice.id, 2048)
    assert (usage.mailbox_id, usage.quota_bytes, usage.limit_bytes) == (
        tenants.alice.id,
        2048,
        2048,
    )
    assert stores.metadata.get_mailbox(PLATFORM, tenants.alice.id).quota_bytes == 2048
    [record] = [r for r in stores.metadata.list_audit(PLATFORM) if r.action == "user.quota"]
    assert (record.actor, record.target, record.tenant_id) == (
        "token:ta",
        "alice@a.example",
        tenants.a.id,
    )


def test_another_tenants_user_is_not_found(
    application: Application, tenants: Tenants, stores: Stores
) -> None:
    admin_of_b = _tenant_admin(tenants.b.id)
    with pytest.raises(NotFound):
        application.quotas.set_quota(admin_of_b, tenants.alice.id, 1)
    with pytest.raises(NotFound):
        application.quotas.usage(admin_of_b, tenants.alice.id)
    assert stores.metadata.get_mailbox(PLATFORM, tenants.alice.id).quota_bytes is None
    assert [r for r in stores.metadata.list_audit(PLATFORM) if r.action == "user.quota"] == []


def test_a_user_reads_their_usage_but_sets_nothing(
    application: Application, tenants: Tenants, stores: Stores
) -> None:
    deliver(stores.metadata, tenants.alice, size=321)
    alice = Principal(
        Role.USER,
        TenantScope(tenants.a.id, tenants.alice.id),
        frozenset({Permission.READ, Permission.ADMIN}),
        "token:alice",
    )
    assert application.quotas.usage(alice, tenants.alice.id).used_bytes == 321
    with pytest.raises(NotFound):
        application.quotas.usage(alice, tenants.amos.id)
    with pytest.raises(Forbidden):
        application.quotas.set_quota(alice, tenants.alice.id, 0)


def test_the_default_applies_until_a_mailbox_has_its_own(
    application: Application, tenants: Tenants, stores: Stores
) -> None:
    deliver(stores.metadata, tenants.alice, size=500)
    application.quotas.default_quota_bytes = 500
    assert application.quotas.usage(ADMIN, tenants.alice.id).full is True
    own = application.quotas.set_quota(ADMIN, tenants.alice.id, 0)
    assert (own.limit_bytes, own.full) == (0, False)
    with pytest.raises(InvalidInput):
        application.quotas.set_quota(ADMIN, tenants.alice.id, -5)
