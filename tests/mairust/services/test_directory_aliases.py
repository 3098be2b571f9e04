"""DirectoryService: aliases and catch-alls, by tenant admins in their own tenant's
domains (another tenant's domain is a NotFound), audited."""

from __future__ import annotations

import pytest

from mairust.errors import Conflict, Forbidden, InvalidInput, NotFound
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from tests.mairust.services.conftest import ADMIN


def tenant_admin(tenant_id: str, *permissions: Permission) -> Principal:
    held = frozenset(permissions or Permission)
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), held, "token:t", "10.0.0.1")


def test_a_tenant_admin_manages_aliases_of_their_domain(application, tenants):
    admin_a = tenant_admin(tenants.a.id)
    alias = application.directory.create_alias(
        admin_a, "A.example", "team@a.example", ["alice@a.example", "AMOS@a.example"]
    )
    assert alias.targets == ("alice@a.example", "amos@a.example")
    assert application.directory.list_aliases(admin_a, "a.example") == [alias]
    application.directory.delete_alias(admin_a, "a.example", "team@a.example")
    assert application.directory.list_aliases(admin_a, "a.example") == []
    actions = [(r.action, r.target) for r in application.audit.page(admin_a)]
    assert ("alias.create", "team@a.example") in actions
    assert ("alias.delete", "team@a.example") in actions


def test_another_tenants_domain_is_not_found(application, tenants):
    admin_a, admin_b = tenant_admin(tenants.a.id), tenant_admin(tenants.b.id)
    application.directory.create_alias(admin_a, "a.example", "team@a.example", ["alice@a.example"])
    application.directory.set_catchall(admin_a, "a.example", "amos@a.example")
    calls = [
        lambda: application.directory.list_aliases(admin_b, "a.example"),
        lambda: application.directory.create_alias(
            admin_b, "a.example", "x@a.example", ["alice@a.example"]
        ),
        lambda: application.directory.delete_alias(admin_b, "a.example", "team@a.example"),
        lambda: application.directory.get_catchall(admin_b, "a.example"),
        lambda: application.directory.set_catchall(admin_b, "a.example", "alice@a.example"),
        lambda: application.directory.clear_catchall(admin_b, "a.example"),
        lambda: application.directory.list_aliases(admin_a, "missing.example"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    # Nothing changed for A.
    assert [a.address for a in application.directory.list_aliases(admin_a, "a.example")] == [
        "team@a.example"
    ]
    assert application.directory.get_catchall(admin_a, "a.example").mailbox_address == (
        "amos@a.example"
    )


def test_targets_are_mailboxes_of_the_domains_tenant(application, tenants):
    admin_a = tenant_admin(tenants.a.id)
    with pytest.raises(NotFound):
        application.directory.create_alias(
            admin_a, "a.example", "team@a.example", ["alice@a.example", "bob@b.example"]
        )
    with pytest.raises(NotFound):
        application.directory.set_catchall(admin_a, "a.example", "bob@b.example")
    with pytest.raises(InvalidInput):  # the alias must be an address of the domain
        application.directory.create_alias(
            admin_a, "a.example", "team@b.example", ["alice@a.example"]
        )
    with pytest.raises(Conflict):  # a mailbox has that address
        application.directory.create_alias(
            admin_a, "a.example", "alice@a.example", ["amos@a.example"]
        )
    # The platform admin may act on any tenant's domain.
    alias = application.directory.create_alias(
        ADMIN, "b.example", "help@b.example", ["bob@b.example"]
    )
    assert alias.tenant_id == tenants.b.id


def test_users_and_read_only_tokens_cannot_change_routing(application, tenants):
    user = Principal(
        Role.USER, TenantScope(tenants.a.id, tenants.alice.id), frozenset(Permission), "u", "s"
    )
    read_only = tenant_admin(tenants.a.id, Permission.READ)
    for principal in (user, read_only):
        with pytest.raises(Forbidden):
            application.directory.create_alias(
                principal, "a.example", "team@a.example", ["alice@a.example"]
            )
        with pytest.raises(Forbidden):
            application.directory.set_catchall(principal, "a.example", "alice@a.example")


def test_a_catchall_is_set_read_and_cleared(application, tenants):
    admin_a = tenant_admin(tenants.a.id)
    with pytest.raises(NotFound):
        application.directory.get_catchall(admin_a, "a.example")
    set_ = application.directory.set_catchall(admin_a, "a.example", "Alice@a.example")
    assert (set_.domain, set_.mailbox_address) == ("a.example", "alice@a.example")
    assert application.directory.get_catchall(admin_a, "a.example") == set_
    application.directory.clear_catchall(admin_a, "a.example")
    with pytest.raises(NotFound):
        application.directory.clear_catchall(admin_a, "a.example")
    actions = [r.action for r in application.audit.page(admin_a)]
    assert "catchall.set" in actions and "catchall.clear" in actions
