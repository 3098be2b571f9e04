"""PolicyService: a domain's own policy and its routing rules, set by tenant admins in
their own tenant's domains (relay rules by the platform admin only), checked, audited, and
shown with what is in force once the configuration fills the gaps."""

from __future__ import annotations

import pytest

from mairust.config import AuthSettings, DomainAuthPolicy
from mairust.errors import Conflict, Forbidden, InvalidInput, NotFound
from mairust.model.policy import DomainPolicy, RouteAction
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.services.application import Application
from mairust.services.policy import NewRule, PolicyDefaults
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import ADMIN, TOKEN_KEYS, Clock


def tenant_admin(tenant_id: str, *permissions: Permission) -> Principal:
    held = frozenset(permissions or Permission)
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), held, "token:t", "10.0.0.1")


@pytest.fixture
def application(stores: Stores, clock: Clock) -> Application:
    defaults = PolicyDefaults(
        AuthSettings(
            spf="record", dmarc="enforce", domains={"a.example": DomainAuthPolicy(spf="enforce")}
        ),
        max_message_size=10_000_000,
    )
    return Application.over(stores, TOKEN_KEYS, clock, policy_defaults=defaults)


def test_a_tenant_admin_sets_their_domains_policy_and_sees_what_is_in_force(
    application, tenants, stores
):
    admin_a = tenant_admin(tenants.a.id)
    view = application.policy.get_policy(admin_a, "A.example")
    assert view.own == DomainPolicy()
    # [auth.domains] for a.example, then [auth], then smtp.max_message_size.
    assert view.effective == DomainPolicy(
        spf="enforce", dmarc="enforce", max_message_bytes=10_000_000
    )
    wanted = DomainPolicy(
        spf="record", dmarc="quarantine", max_message_bytes=5000, messages_per_minute=60
    )
    view = application.policy.set_policy(admin_a, "a.example", wanted)
    assert view.own == wanted and view.effective == wanted
    domain = stores.metadata.get_domain("a.example")
    assert domain is not None and domain.policy == wanted
    records = [(r.action, r.target, r.details) for r in application.audit.page(admin_a)]
    assert (
        "domain.policy.set",
        "a.example",
        {
            "spf": "record",
            "dmarc": "quarantine",
            "max_message_bytes": 5000,
            "messages_per_minute": 60,
        },
    ) in records


def test_a_policy_may_not_raise_the_platforms_size_limit(application, tenants):
    with pytest.raises(InvalidInput):
        application.policy.set_policy(
            tenant_admin(tenants.a.id), "a.example", DomainPolicy(max_message_bytes=10_000_001)
        )


def test_rules_to_the_tenants_own_mailboxes_and_aliases(application, tenants, stores):
    admin_a = tenant_admin(tenants.a.id)
    stores.metadata.add_alias("team@a.example", tenants.a.id, [tenants.alice.id])
    local = application.policy.add_rule(
        admin_a, "a.example", NewRule("Sales-*", RouteAction.LOCAL, "ALICE@a.example")
    )
    assert (local.pattern, local.target) == ("sales-*", "alice@a.example")
    to_alias = application.policy.add_rule(
        admin_a, "a.example", NewRule("crew", RouteAction.FORWARD, "team@a.example")
    )
    out = application.policy.add_rule(
        admin_a, "a.example", NewRule("*", RouteAction.FORWARD, "Someone@Remote.example")
    )
    assert out.target == "someone@remote.example"
    assert application.policy.list_rules(admin_a, "a.example") == [local, to_alias, out]
    with pytest.raises(Conflict):
        application.policy.add_rule(
            admin_a, "a.example", NewRule("sales-*", RouteAction.LOCAL, "amos@a.example")
        )
    application.policy.delete_rule(admin_a, "a.example", to_alias.id)
    assert application.policy.list_rules(admin_a, "a.example") == [local, out]
    actions = [(r.action, r.target) for r in application.audit.page(admin_a)]
    assert ("domain.route.create", "sales-*@a.example") in actions
    assert ("domain.route.delete", "crew@a.example") in actions


def test_targets_outside_the_tenant_are_not_found(application, tenants):
    admin_a = tenant_admin(tenants.a.id)
    for rule in (
        NewRule("x", RouteAction.LOCAL, "bob@b.example"),  # another tenant's mailbox
        NewRule("x", RouteAction.LOCAL, "ghost@a.example"),  # no such mailbox
        NewRule("x", RouteAction.FORWARD, "bob@b.example"),  # a local address of B
        NewRule("x", RouteAction.FORWARD, "ghost@a.example"),
    ):
        with pytest.raises(NotFound):
            application.policy.add_rule(admin_a, "a.example", rule)
    for rule in (
        NewRule("a b", RouteAction.LOCAL, "alice@a.example"),
        NewRule("x", RouteAction.FORWARD, "not an address"),
    ):
        with pytest.raises(InvalidInput):
            application.policy.add_rule(admin_a, "a.example", rule)
    assert application.policy.list_rules(admin_a, "a.example") == []


def test_relay_rules_are_the_platform_admins(application, tenants):
    admin_a = tenant_admin(tenants.a.id)
    with pytest.raises(Forbidden):
        application.policy.add_rule(
            admin_a, "a.example", NewRule("*", RouteAction.RELAY, "10.0.0.5:25")
        )
    with pytest.raises(InvalidInput):
        application.policy.add_rule(ADMIN, "a.example", NewRule("*", RouteAction.RELAY, "a b"))
    relay = application.policy.add_rule(
        ADMIN, "a.example", NewRule("*", RouteAction.RELAY, "[10.0.0.5]:25")
    )
    assert application.policy.list_rules(admin_a, "a.example") == [relay]
    # LMTP to a local mail store: the socket path keeps its case, a TCP target needs a port.
    with pytest.raises(InvalidInput):
        application.policy.add_rule(ADMIN, "a.example", NewRule("s*", RouteAction.RELAY, "lmtp:x"))
    store = application.policy.add_rule(
        ADMIN, "a.example", NewRule("store-*", RouteAction.RELAY, "LMTP:/run/Dovecot/lmtp")
    )
    assert store.target == "lmtp:/run/Dovecot/lmtp"


def test_another_tenant_and_lesser_roles_get_nothing(application, tenants):
    admin_a, admin_b = tenant_admin(tenants.a.id), tenant_admin(tenants.b.id)
    rule = application.policy.add_rule(
        admin_a, "a.example", NewRule("x", RouteAction.LOCAL, "alice@a.example")
    )
    for call in (
        lambda: application.policy.get_policy(admin_b, "a.example"),
        lambda: application.policy.set_policy(admin_b, "a.example", DomainPolicy(spf="enforce")),
        lambda: application.policy.list_rules(admin_b, "a.example"),
        lambda: application.policy.add_rule(
            admin_b, "a.example", NewRule("y", RouteAction.LOCAL, "alice@a.example")
        ),
        lambda: application.policy.delete_rule(admin_b, "a.example", rule.id),
        lambda: application.policy.delete_rule(admin_b, "b.example", rule.id),
        lambda: application.policy.get_policy(admin_a, "missing.example"),
    ):
        with pytest.raises(NotFound):
            call()
    user = Principal(
        Role.USER, TenantScope(tenants.a.id, tenants.alice.id), frozenset(Permission), "t", ""
    )
    reader = tenant_admin(tenants.a.id, Permission.READ)
    for who in (user, reader):
        with pytest.raises(Forbidden):
            application.policy.list_rules(who, "a.example")
    assert application.policy.list_rules(admin_a, "a.example") == [rule]
