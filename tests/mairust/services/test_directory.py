"""Tenants, domains and users: who may create and see what; every change audited."""

from __future__ import annotations

import pytest

from mairust.errors import Conflict, Forbidden, InvalidInput, NotFound
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.passwords import verify_password
from mairust.regions import regions_of
from mairust.services.audit import AuditTrail
from mairust.services.directory import DirectoryService, NewUser
from tests.mairust.services.conftest import ADMIN
from tests.support.regions import write_regions

ALL = frozenset(Permission)


def tenant_admin(tenant_id: str, permissions=ALL) -> Principal:
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), frozenset(permissions), "ta", "x")


def user(tenant_id: str, mailbox_id: str) -> Principal:
    return Principal(
        Role.USER, TenantScope(tenant_id, mailbox_id), frozenset({Permission.READ}), "u", "x"
    )


def test_the_platform_admin_creates_domains_and_their_tenants_once(application, stores):
    domain, tenant = application.directory.create_domain(ADMIN, "Example.TEST")
    assert (domain.name, tenant.name) == ("example.test", "example.test")
    with pytest.raises(Conflict):
        application.directory.create_domain(ADMIN, "example.test", "other")
    assert [t.name for t in stores.metadata.list_tenants()] == ["example.test"]  # unchanged
    assert application.directory.ensure_domain(ADMIN, "b.test", "example.test")
    assert not application.directory.ensure_domain(ADMIN, "b.test")
    assert [r.action for r in application.audit.page(ADMIN)] == ["domain.create"] * 2


def test_a_tenant_admin_cannot_claim_a_domain_or_create_a_tenant(application, tenants):
    admin_a = tenant_admin(tenants.a.id)
    with pytest.raises(Forbidden):
        application.directory.create_domain(admin_a, "gmail.example")
    with pytest.raises(Forbidden):
        application.directory.create_tenant(admin_a, "mine")


def test_a_tenant_admin_creates_users_only_in_its_own_domains(application, tenants, stores):
    admin_a = tenant_admin(tenants.a.id)
    made = application.directory.create_user(
        admin_a, NewUser("new@a.example", "pw", Role.TENANT_ADMIN)
    )
    assert made.role is Role.TENANT_ADMIN and made.tenant_id == tenants.a.id
    assert made.password_hash is not None and verify_password("pw", made.password_hash)
    with pytest.raises(NotFound) as foreign:
        application.directory.create_user(admin_a, NewUser("x@b.example"))
    with pytest.raises(NotFound) as missing:
        application.directory.create_user(admin_a, NewUser("x@nowhere.example"))
    # another tenant's domain reads exactly like a domain that is not local
    assert str(foreign.value).replace("b.example", "D") == str(missing.value).replace(
        "nowhere.example", "D"
    )
    assert stores.metadata.find_mailbox("x@b.example") is None
    records = application.audit.page(admin_a)
    assert [(r.action, r.target, r.tenant_id) for r in records] == [
        ("user.create", "new@a.example", tenants.a.id)
    ]


def test_roles_cannot_be_raised_through_users(application, tenants):
    with pytest.raises(InvalidInput):
        application.directory.create_user(ADMIN, NewUser("root@a.example", role=Role.ADMIN))
    reader = tenant_admin(tenants.a.id, {Permission.READ})
    with pytest.raises(Forbidden):  # a tenant admin's read-only token cannot create
        application.directory.create_user(reader, NewUser("y@a.example"))


def test_listings_follow_the_scope(application, tenants):
    everyone = {m.address for m in application.directory.list_users(ADMIN)}
    assert everyone == {"alice@a.example", "amos@a.example", "bob@b.example"}
    in_a = {m.address for m in application.directory.list_users(tenant_admin(tenants.a.id))}
    assert in_a == {"alice@a.example", "amos@a.example"}
    alice = user(tenants.a.id, tenants.alice.id)
    assert [m.address for m in application.directory.list_users(alice)] == ["alice@a.example"]
    assert [d.name for d in application.directory.list_domains(alice)] == ["a.example"]
    assert [t.name for t in application.directory.list_tenants(alice)] == ["a"]
    assert {t.name for t in application.directory.list_tenants(ADMIN)} == {"a", "b"}


def test_find_user_answers_foreign_and_missing_alike(application, tenants):
    alice = user(tenants.a.id, tenants.alice.id)
    assert application.directory.find_user(alice, "Alice@A.example").id == tenants.alice.id
    answers = set()
    for address in ("amos@a.example", "bob@b.example", "ghost@a.example"):
        with pytest.raises(NotFound) as refused:
            application.directory.find_user(alice, address)
        answers.add(str(refused.value).split("'")[0])
    assert answers == {"no mailbox "}


def regional_directory(stores, tmp_path) -> DirectoryService:
    """The directory service of region ``a`` of a two-region config (``a`` and ``b``)."""
    regions = regions_of(str(write_regions(tmp_path / "regions.toml", "a")))
    return DirectoryService(stores.metadata, AuditTrail(stores.metadata), regions)


def test_a_tenant_gets_a_configured_home_region_and_the_change_is_audited(stores, tmp_path):
    directory = regional_directory(stores, tmp_path)
    assert directory.create_tenant(ADMIN, "away", "b").home_region == "b"
    with pytest.raises(InvalidInput, match="'z'"):
        directory.create_tenant(ADMIN, "lost", "z")
    here = directory.create_tenant(ADMIN, "here")
    assert directory.set_tenant_home(ADMIN, "here", "b").home_region == "b"  # by name
    assert stores.metadata.get_tenant(here.id).home_region == "b"
    assert directory.set_tenant_home(ADMIN, here.id, None).home_region is None  # by id
    assert stores.metadata.get_tenant(here.id).home_region is None
    with pytest.raises(InvalidInput, match="'z'"):
        directory.set_tenant_home(ADMIN, "here", "z")
    with pytest.raises(NotFound):
        directory.set_tenant_home(ADMIN, "nobody", "b")
    assert stores.metadata.get_tenant(here.id).home_region is None
    actions = [(r.action, r.details) for r in AuditTrail(stores.metadata).page(ADMIN)]
    assert actions[:2] == [
        ("tenant.home", {"home_region": None}),
        ("tenant.home", {"home_region": "b"}),
    ]


def test_a_tenant_with_mailboxes_here_is_not_given_another_home(stores, tenants, tmp_path):
    directory = regional_directory(stores, tmp_path)
    with pytest.raises(Conflict, match="2 mailbox"):
        directory.set_tenant_home(ADMIN, "a", "b")
    assert stores.metadata.get_tenant(tenants.a.id).home_region is None
    # Naming this region itself moves nothing: allowed.
    assert directory.set_tenant_home(ADMIN, "a", "a").home_region == "a"
    with pytest.raises(Forbidden):
        directory.set_tenant_home(tenant_admin(tenants.b.id), "b", "a")


def test_without_a_regions_config_no_tenant_is_homed_elsewhere(application, tenants):
    with pytest.raises(InvalidInput, match="regions config"):
        application.directory.create_tenant(ADMIN, "away", "b")
    with pytest.raises(InvalidInput, match="regions config"):
        application.directory.set_tenant_home(ADMIN, "b", "b")
    assert application.directory.set_tenant_home(ADMIN, "b", None).home_region is None
